//! Printing: results on stdout (human or `--json`), errors on stderr.

use serde::Serialize;

use crate::exit::CliError;

/// Prints `value` as JSON, or `human()` as text.
pub(crate) fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot encode the result as JSON: {e}"),
        }
    } else {
        print!("{}", human());
    }
}

/// Prints an error: `error: …` with its causes, or a JSON object with `--json`.
pub(crate) fn print_error(error: &CliError, json: bool) {
    let chain: Vec<String> = error.report.chain().map(ToString::to_string).collect();
    if json {
        let value = serde_json::json!({
            "error": chain.first().cloned().unwrap_or_default(),
            "causes": chain.iter().skip(1).collect::<Vec<_>>(),
            "exit_code": error.failure as u8,
        });
        eprintln!("{value}");
        return;
    }
    eprintln!("error: {}", chain.first().cloned().unwrap_or_default());
    for cause in chain.iter().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
