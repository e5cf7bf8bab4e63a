//! `aimock check`: its output lines and exit codes, from the real binary.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{cassette, write};

fn check(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimock"))
        .arg("check")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn clean_cassettes_pass_with_exit_code_0() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "c/a.json",
        &cassette(&[("hi", "a"), ("bye", "b")]),
    );
    write(d.path(), "c/sub/b.json", &cassette(&[("other", "c")]));

    let out = check(d.path(), &["c"]);

    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        lines(&out),
        ["checked 2 file(s), 3 fixture(s): 0 error(s), 0 warning(s)"]
    );
}

#[test]
fn the_default_path_is_the_cassettes_directory() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "cassettes/a.json", &cassette(&[("hi", "a")]));

    let out = check(d.path(), &[]);

    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        lines(&out),
        ["checked 1 file(s), 1 fixture(s): 0 error(s), 0 warning(s)"]
    );
}

#[test]
fn broken_json_is_an_error_at_its_line_and_column_with_exit_code_1() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "bad.json",
        "{\n  \"fixtures\": [\n    {\"match\": {},}\n  ]\n}\n",
    );
    write(d.path(), "good.json", &cassette(&[("hi", "a")]));

    let out = check(d.path(), &["bad.json", "good.json"]);

    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        lines(&out),
        [
            "bad.json:3:18: error: invalid JSON: trailing comma",
            "checked 2 file(s), 1 fixture(s): 1 error(s), 0 warning(s)",
        ]
    );
}

#[test]
fn entry_errors_name_the_fixture_the_field_and_its_position() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"{"fixtures": [
  {"match": {"userMessage": "hi"}, "response": {"content": "a"}},
  {"match": {"userMessage": "x"}},
  {"match": {}, "response": {"toolCalls": [{"name": "f", "arguments": "{oops"}]}}
]}
"#;
    write(d.path(), "c.json", text);

    let out = check(d.path(), &["c.json"]);

    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        lines(&out),
        [
            "c.json:3:3: error: fixture #1: response: missing",
            "c.json:4:58: warning: fixture #2: response.toolCalls[0].arguments: is not valid JSON (served as written)",
            "checked 1 file(s), 2 fixture(s): 1 error(s), 1 warning(s)",
        ]
    );
}

#[test]
fn warnings_are_printed_and_leave_the_exit_code_at_0() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"{"fixtures": [
  {"match": {"userMessage": "hello"}, "response": {"content": "a"}},
  {"match": {"userMessage": "hello world"}, "response": {"content": "b"}},
  {"match": {"userMessage": "empty"}, "response": {"content": ""}},
  {"match": {"userMessage": "key"}, "response": {"content": "use sk-test-not-a-real-key-000"}},
  {"match": {"userMesage": "typo"}, "response": {"content": "c"}}
]}
"#;
    write(d.path(), "w.json", text);

    let out = check(d.path(), &["w.json"]);

    assert_eq!(out.status.code(), Some(0), "{:?}", lines(&out));
    assert_eq!(
        lines(&out),
        [
            "w.json:3:4: warning: fixture #1: match: can never match: fixture #0 comes first and matches every request this one would",
            "w.json:4:52: warning: fixture #2: response.content: is empty",
            "w.json:5:50: warning: fixture #3: response.content: looks like an OpenAI API key (sk-tes…); use a plainly fake value",
            "w.json:6:14: warning: fixture #4: match.userMesage: unknown match field (ignored)",
            "checked 1 file(s), 5 fixture(s): 0 error(s), 4 warning(s)",
        ]
    );
}

#[test]
fn a_shadow_across_files_names_the_earlier_file() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "c/a.json", &cassette(&[("hi", "a")]));
    write(d.path(), "c/b.json", &cassette(&[("hi there", "b")]));

    let out = check(d.path(), &["c"]);

    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        lines(&out)[0],
        "c/b.json:4:7: warning: fixture #0: match: can never match: fixture #0 (c/a.json) comes first and matches every request this one would"
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let d = tempfile::tempdir().unwrap();

    let out = check(d.path(), &["nope"]);

    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        lines(&out),
        [
            "nope: error: does not exist",
            "checked 0 file(s), 0 fixture(s): 1 error(s), 0 warning(s)",
        ]
    );
}
