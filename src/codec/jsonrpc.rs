//! JSON-RPC 2.0 framing, shared by the MCP and A2A services: read a request body into
//! calls (a single object or a batch), tell requests from notifications, and build the
//! `result` and `error` replies with the spec's codes.
//!
//! Scope: the envelope only. What a method means, which methods exist and which HTTP
//! status a reply travels with are the services' (MCP answers a batch of notifications
//! with 202, A2A has no batches in its spec but tolerates them here).
//!
//! Ids: a string or a number is kept verbatim (`"1"` is not `1`); `null` or any other
//! type makes the entry invalid (-32600) and its error carries `id: null`, as the spec
//! says for an id that cannot be read.
//!
//! # Design
//! Rejected: deserialising into typed request structs with serde's derive. A malformed
//! entry must still yield its id for the error reply, and a batch must answer every
//! valid entry even when one is bad; walking the `Value` keeps both without a second
//! parse.

use serde_json::{json, Map, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;

/// One well-formed call: a request (with an id) or a notification (without).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The id (a string or a number); `None` for a notification.
    pub id: Option<Value>,
    /// The method name.
    pub method: String,
    /// The params, if any (an object or an array, per the spec).
    pub params: Option<Value>,
}

impl Call {
    /// A notification expects no reply.
    pub fn is_notification(&self) -> bool {
        self.id.is_none()
    }

    /// The id to answer with (`null` for a notification, which gets no answer anyway).
    pub fn reply_id(&self) -> Value {
        self.id.clone().unwrap_or(Value::Null)
    }

    /// The params as an object; absent params read as an empty object.
    pub fn params_object(&self) -> Option<&Map<String, Value>> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        match &self.params {
            None | Some(Value::Null) => Some(EMPTY.get_or_init(Map::new)),
            Some(Value::Object(m)) => Some(m),
            Some(_) => None,
        }
    }
}

/// One entry of a request body: a call, or the error reply an invalid entry gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A well-formed call.
    Call(Call),
    /// An invalid entry, already answered (-32600 with the id if one could be read).
    Invalid(Value),
    /// A response (to a request the server sent): `result` or `error`, no `method`.
    Response(Value),
}

/// A parsed request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A single object.
    Single(Entry),
    /// A non-empty array of entries.
    Batch(Vec<Entry>),
}

/// Parse a request body. `Err` is the whole reply: a parse error (-32700) for bytes
/// that are not JSON, an invalid request (-32600) for `[]` or a scalar.
pub fn parse(body: &[u8]) -> Result<Incoming, Value> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| error(Value::Null, PARSE_ERROR, "Parse error"))?;
    match v {
        Value::Array(items) if items.is_empty() => {
            Err(error(Value::Null, INVALID_REQUEST, "Invalid Request"))
        }
        Value::Array(items) => Ok(Incoming::Batch(items.into_iter().map(entry).collect())),
        v @ Value::Object(_) => Ok(Incoming::Single(entry(v))),
        _ => Err(error(Value::Null, INVALID_REQUEST, "Invalid Request")),
    }
}

/// Read one entry of a body.
pub fn entry(v: Value) -> Entry {
    let Value::Object(mut m) = v else {
        return Entry::Invalid(error(Value::Null, INVALID_REQUEST, "Invalid Request"));
    };
    let id = match m.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        // `null` or another type: unreadable, so the error goes back with `null`.
        Some(_) => {
            return Entry::Invalid(error(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: id must be a string or a number",
            ))
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Entry::Invalid(error(
            reply_id,
            INVALID_REQUEST,
            "Invalid Request: jsonrpc must be \"2.0\"",
        ));
    }
    if !m.contains_key("method") && (m.contains_key("result") || m.contains_key("error")) {
        m.insert("id".into(), reply_id);
        return Entry::Response(Value::Object(m));
    }
    let method = match m.remove("method") {
        Some(Value::String(s)) => s,
        _ => {
            return Entry::Invalid(error(
                reply_id,
                INVALID_REQUEST,
                "Invalid Request: method must be a string",
            ))
        }
    };
    let params = m.remove("params");
    if matches!(
        params,
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_))
    ) {
        return Entry::Invalid(error(
            reply_id,
            INVALID_REQUEST,
            "Invalid Request: params must be an object or an array",
        ));
    }
    Entry::Call(Call { id, method, params })
}

/// A success reply.
pub fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error reply.
pub fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

/// An error reply with a `data` member.
pub fn error_with_data(id: Value, code: i64, message: impl Into<String>, data: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id,
           "error": {"code": code, "message": message.into(), "data": data}})
}

/// An error a method handler raises; the dispatcher turns it into a reply with the
/// call's id.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC code.
    pub code: i64,
    /// The message.
    pub message: String,
}

impl RpcError {
    /// An error with a code and a message.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// -32602 with a message.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// -32601 naming the method.
    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }

    /// The reply for call id `id`.
    pub fn reply(&self, id: Value) -> Value {
        error(id, self.code, self.message.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: &Value) -> i64 {
        v["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn bytes_that_are_not_json_are_a_parse_error_with_a_null_id() {
        for body in [&b"{"[..], b"", b"\xff\xfe", b"{\"jsonrpc\":"] {
            let e = parse(body).unwrap_err();
            assert_eq!(code(&e), PARSE_ERROR);
            assert_eq!(e["id"], Value::Null);
        }
    }

    #[test]
    fn an_empty_batch_and_a_scalar_are_invalid_requests() {
        for body in ["[]", "1", "\"x\"", "null", "true"] {
            assert_eq!(code(&parse(body.as_bytes()).unwrap_err()), INVALID_REQUEST);
        }
    }

    #[test]
    fn a_request_keeps_its_id_verbatim_and_a_notification_has_none() {
        let Incoming::Single(Entry::Call(c)) =
            parse(br#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#).unwrap()
        else {
            panic!("not a call")
        };
        assert_eq!(c.id, Some(json!("7")));
        assert!(!c.is_notification());
        let Incoming::Single(Entry::Call(n)) =
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap()
        else {
            panic!("not a call")
        };
        assert!(n.is_notification());
        assert_eq!(n.params_object().map(Map::len), Some(0));
    }

    #[test]
    fn a_batch_answers_each_bad_entry_and_keeps_the_good_ones() {
        let Incoming::Batch(entries) = parse(
            br#"[{"jsonrpc":"2.0","id":1,"method":"a"}, 5, {"jsonrpc":"1.0","id":2,"method":"b"},
                 {"jsonrpc":"2.0","id":3}, {"jsonrpc":"2.0","id":{"x":1},"method":"c"},
                 {"jsonrpc":"2.0","id":4,"method":"d","params":"s"}]"#,
        )
        .unwrap() else {
            panic!("not a batch")
        };
        assert!(matches!(&entries[0], Entry::Call(c) if c.method == "a"));
        let invalid: Vec<&Value> = entries[1..]
            .iter()
            .map(|e| match e {
                Entry::Invalid(v) => v,
                other => panic!("{other:?} should be invalid"),
            })
            .collect();
        assert!(invalid.iter().all(|v| code(v) == INVALID_REQUEST));
        assert_eq!(
            invalid.iter().map(|v| v["id"].clone()).collect::<Vec<_>>(),
            vec![Value::Null, json!(2), json!(3), Value::Null, json!(4)]
        );
    }

    #[test]
    fn a_response_from_the_client_is_told_apart_from_a_call() {
        let Incoming::Single(e) = parse(br#"{"jsonrpc":"2.0","id":9,"result":{}}"#).unwrap() else {
            panic!("not single")
        };
        assert!(matches!(e, Entry::Response(v) if v["id"] == 9));
    }

    #[test]
    fn params_that_are_not_an_object_read_as_none_for_object_methods() {
        let c = Call {
            id: Some(json!(1)),
            method: "m".into(),
            params: Some(json!([1])),
        };
        assert!(c.params_object().is_none());
        assert_eq!(
            RpcError::invalid_params("bad").reply(json!(1)),
            json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}})
        );
    }
}
