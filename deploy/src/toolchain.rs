//! Finds the Foundry binaries that `scripts/setup.sh` installs into `.tools/bin`.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Locates the Foundry binary `tool` (`anvil`, `forge`, `cast`), trying in order:
/// 1. the environment variable `VTRAIN_<TOOL>` (e.g. `VTRAIN_ANVIL`), which must
///    name an existing file;
/// 2. `.tools/bin/<tool>` in the current directory or any of its ancestors;
/// 3. `.tools/bin/<tool>` in the workspace this crate was built from;
/// 4. `<tool>` on `PATH`.
pub fn find_tool(tool: &str) -> Result<PathBuf> {
    let env_var = format!("VTRAIN_{}", tool.to_ascii_uppercase());
    let mut searched = Vec::new();
    if let Some(path) = std::env::var_os(&env_var).map(PathBuf::from) {
        if path.is_file() {
            return Ok(path);
        }
        searched.push(path);
        return Err(Error::ToolNotFound {
            tool: tool.to_owned(),
            env_var,
            searched,
        });
    }
    let relative = Path::new(".tools/bin").join(tool);
    let cwd_ancestors = std::env::current_dir()
        .map(|dir| {
            dir.ancestors()
                .map(|a| a.join(&relative))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|workspace| workspace.join(&relative));
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(tool))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for candidate in cwd_ancestors.into_iter().chain(built_from).chain(on_path) {
        if candidate.is_file() {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    Err(Error::ToolNotFound {
        tool: tool.to_owned(),
        env_var,
        searched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tool_error_names_the_fix() {
        let error = find_tool("vtrain-no-such-tool").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("scripts/setup.sh"), "{message}");
        assert!(message.contains("VTRAIN_VTRAIN-NO-SUCH-TOOL"), "{message}");
    }
}
