//! The `Status` objects a session ends with on the error channel, shaped as the kubelet writes
//! them (no kind or apiVersion; field order as Go marshals `metav1.Status`).

use serde_json::{json, Value};

/// The command exited 0 (or an attach ended).
pub(crate) fn success() -> Value {
    json!({"metadata": {}, "status": "Success"})
}

/// The command exited with `code`; kubectl exits with it and prints
/// `command terminated with exit code N`.
pub(crate) fn exit_code(command: &[String], code: i32) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command {}, exit code {code}",
            go_list(command)
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// A string slice as Go's `%v` prints it: `[sh -c exit 3]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_kubelets() {
        let command = ["sh", "-c", "exit 3"].map(String::from);
        assert_eq!(
            exit_code(&command, 3).to_string(),
            r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#
        );
        assert_eq!(
            success().to_string(),
            r#"{"metadata":{},"status":"Success"}"#
        );
        assert_eq!(
            ferry_api::status::stream_internal_error("error executing command in container: boom")
                .to_string(),
            r#"{"metadata":{},"status":"Failure","message":"Internal error occurred: error executing command in container: boom","reason":"InternalError","details":{"causes":[{"message":"error executing command in container: boom"}]},"code":500}"#
        );
    }
}
