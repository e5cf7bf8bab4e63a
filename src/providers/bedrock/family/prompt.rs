//! The turns inside a single `prompt` string (Llama, Mistral, DeepSeek, Titan): the
//! chat templates clients write by hand, so a fixture's `userMessage` matches what the
//! user said rather than the template around it.
//!
//! Read: Llama 3's header tokens (`<|start_header_id|>user<|end_header_id|>` ...
//! `<|eot_id|>`), the `[INST] ... [/INST]` form of Llama 2 and Mistral (with Llama 2's
//! `<<SYS>>` block), DeepSeek's `<｜User｜>` / `<｜Assistant｜>` markers, and Titan's
//! `User: ... Bot:` convention. Anything else is one user turn holding the whole
//! prompt. Rejected: a general template engine; these are the shapes the model
//! documentation tells people to write.

use crate::request::{Message, Role};

/// The conversation a prompt holds, oldest first (never empty).
pub(super) fn turns(prompt: &str) -> Vec<Message> {
    let out = if prompt.contains("<|start_header_id|>") {
        llama3(prompt)
    } else if prompt.contains("[INST]") {
        inst(prompt)
    } else if prompt.contains("<｜User｜>") {
        deepseek(prompt)
    } else {
        titan(prompt)
    };
    if out.iter().any(|m| m.role == Role::User) {
        out
    } else {
        vec![Message::text(Role::User, prompt)]
    }
}

fn role_of(name: &str) -> Role {
    match name.trim() {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        "ipython" | "tool" => Role::Tool,
        _ => Role::User,
    }
}

fn push(out: &mut Vec<Message>, role: Role, text: &str) {
    let text = text.trim();
    // An empty assistant header at the end is the generation cue, not a turn.
    if text.is_empty() && role == Role::Assistant {
        return;
    }
    out.push(Message::text(role, text));
}

fn llama3(prompt: &str) -> Vec<Message> {
    let mut out = Vec::new();
    for part in prompt.split("<|start_header_id|>").skip(1) {
        let Some((name, rest)) = part.split_once("<|end_header_id|>") else {
            continue;
        };
        let text = rest.split("<|eot_id|>").next().unwrap_or(rest);
        push(&mut out, role_of(name), text);
    }
    out
}

fn inst(prompt: &str) -> Vec<Message> {
    let mut out = Vec::new();
    for part in prompt.split("[INST]").skip(1) {
        let (user, answer) = part.split_once("[/INST]").unwrap_or((part, ""));
        let mut user = user;
        if let Some((before, sys_rest)) = user.split_once("<<SYS>>") {
            if let Some((sys, after)) = sys_rest.split_once("<</SYS>>") {
                push(&mut out, Role::System, sys);
                let _ = before;
                user = after;
            }
        }
        push(&mut out, Role::User, user);
        let answer = answer.replace("</s>", "").replace("<s>", "");
        push(&mut out, Role::Assistant, &answer);
    }
    out
}

fn deepseek(prompt: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let (system, rest) = prompt.split_once("<｜User｜>").unwrap_or(("", prompt));
    let system = system.replace("<｜begin▁of▁sentence｜>", "");
    if !system.trim().is_empty() {
        push(&mut out, Role::System, &system);
    }
    for part in rest.split("<｜User｜>") {
        let (user, answer) = part.split_once("<｜Assistant｜>").unwrap_or((part, ""));
        push(&mut out, Role::User, user);
        let answer = answer.replace("<｜end▁of▁sentence｜>", "");
        push(&mut out, Role::Assistant, &answer);
    }
    out
}

/// `User: ...\nBot: ...` lines; a prompt without them is one user turn.
fn titan(prompt: &str) -> Vec<Message> {
    if !prompt.contains("User:") {
        return vec![Message::text(Role::User, prompt.trim())];
    }
    let mut out = Vec::new();
    let mut role = None;
    let mut text = String::new();
    for line in prompt.lines() {
        let (next, rest) = if let Some(r) = line.strip_prefix("User:") {
            (Some(Role::User), r)
        } else if let Some(r) = line.strip_prefix("Bot:") {
            (Some(Role::Assistant), r)
        } else {
            (None, line)
        };
        if let Some(n) = next {
            if let Some(r) = role {
                push(&mut out, r, &text);
            }
            role = Some(n);
            text = rest.to_string();
        } else {
            if role.is_none() {
                role = Some(Role::System);
            }
            text.push('\n');
            text.push_str(rest);
        }
    }
    if let Some(r) = role {
        push(&mut out, r, &text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: &str) -> Vec<(Role, String)> {
        turns(p)
            .into_iter()
            .map(|m| (m.role, m.text.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn llama3_headers_become_turns_and_the_open_assistant_header_is_dropped() {
        let p = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        assert_eq!(
            texts(p),
            [
                (Role::System, "Be brief.".into()),
                (Role::User, "Hello there".into())
            ]
        );
    }

    #[test]
    fn inst_blocks_carry_system_user_and_earlier_answers() {
        let p =
            "<s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nfirst [/INST] answer </s><s>[INST] second [/INST]";
        assert_eq!(
            texts(p),
            [
                (Role::System, "sys".into()),
                (Role::User, "first".into()),
                (Role::Assistant, "answer".into()),
                (Role::User, "second".into()),
            ]
        );
    }

    #[test]
    fn deepseek_markers_and_titan_lines_and_plain_prompts() {
        assert_eq!(
            texts("<｜begin▁of▁sentence｜><｜User｜>why?<｜Assistant｜>"),
            [(Role::User, "why?".into())]
        );
        assert_eq!(
            texts("User: hi there\nBot:"),
            [(Role::User, "hi there".into())]
        );
        assert_eq!(
            texts("Tell me a joke"),
            [(Role::User, "Tell me a joke".into())]
        );
    }
}
