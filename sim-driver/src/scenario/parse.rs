//! Reading a scenario: from a file or text, with `--set` overrides, every error placed
//! at its file, line and column with the field named and a suggestion.

use std::path::Path;

use super::*;

impl Scenario {
    /// The pools the cluster has: `workload.pools`, or none without tokens (a pool
    /// trades the native coin against a token).
    pub fn pools(&self) -> u32 {
        if self.workload.tokens == 0 {
            0
        } else {
            self.workload.pools
        }
    }

    /// Reads and checks a scenario file.
    pub fn from_path(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut scenario = Scenario::from_toml(&text, &shown)?;
        scenario.resolve_paths(path);
        Ok(scenario)
    }

    /// Makes the trace's relative paths relative to the scenario file's folder, so a
    /// scenario runs the same from any working directory.
    fn resolve_paths(&mut self, scenario_file: &Path) {
        let base = scenario_file.parent().unwrap_or(Path::new(""));
        if let Some(m) = &mut self.simulation.cost_model
            && m.is_relative()
        {
            *m = base.join(&*m);
        }
        if let Some(t) = &mut self.workload.trace {
            if t.path.is_relative() {
                t.path = base.join(&t.path);
            }
            if let Some(e) = &mut t.erc20
                && e.is_relative()
            {
                *e = base.join(&*e);
            }
        }
    }

    /// Parses and checks scenario text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        if text.len() > MAX_SCENARIO_BYTES {
            return Err(ScenarioError::Inconsistent {
                path: origin.to_string(),
                message: format!(
                    "the file is {} bytes; a scenario may be at most {MAX_SCENARIO_BYTES}",
                    text.len()
                ),
            });
        }
        let parse_error = |e: &toml::de::Error, field: Option<String>| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            let message = with_suggestion(e.message());
            // serde names the field in its own "unknown field" and "missing field"
            // messages; a type error ("invalid type: string, expected u32") does not,
            // so the path the value was found at is put in front.
            let message = match field {
                Some(f) if !message.contains(f.as_str()) => {
                    format!("{f}: {message}")
                }
                _ => message,
            };
            ScenarioError::Parse {
                path: origin.to_string(),
                line,
                column,
                message,
            }
        };
        let de = toml::Deserializer::parse(text).map_err(|e| parse_error(&e, None))?;
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = (path != "." && !path.is_empty()).then_some(path);
            parse_error(e.inner(), field)
        })?;
        scenario.check(origin)?;
        Ok(scenario)
    }

    /// Reads a scenario file and applies `--set key=value` overrides (which win over
    /// the file). An error in the file itself is reported at its line; an error that
    /// only the overrides cause names them.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        if overrides.is_empty() {
            let mut scenario = Scenario::from_toml(&text, &shown)?;
            scenario.resolve_paths(path);
            return Ok(scenario);
        }
        let mut table: toml::Table = match toml::from_str(&text) {
            Ok(t) => t,
            // Not even TOML: the file's own error, with its location.
            Err(_) => return Scenario::from_toml(&text, &shown),
        };
        for o in overrides {
            apply_override(&mut table, o).map_err(|message| ScenarioError::Inconsistent {
                path: shown.clone(),
                message,
            })?;
        }
        let merged = toml::to_string(&table).unwrap_or_default();
        let origin = format!("{shown} with --set {}", overrides.join(" --set "));
        let mut scenario = Scenario::from_toml(&merged, &origin).map_err(|e| match e {
            // Locations in the merged text mean nothing to the user: name the overrides.
            ScenarioError::Parse { path, message, .. } => {
                ScenarioError::Inconsistent { path, message }
            }
            other => other,
        })?;
        scenario.resolve_paths(path);
        Ok(scenario)
    }
}

/// Largest scenario file read, bytes: a scenario is a page of settings.
pub(super) const MAX_SCENARIO_BYTES: usize = 1 << 20;

/// Sets `key=value` in `table`: `key` is a dotted path (`cluster.shards`), `value` is
/// TOML (`8`, `0.5`, `"100ms"`) or, failing that, a bare string (`max`, `asap`, `10s`).
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| {
        format!("--set {assignment:?}: expected key=value, e.g. cluster.shards=8")
    })?;
    let (key, raw) = (key.trim(), raw.trim());
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts
        .pop()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| format!("--set {assignment:?}: empty key"))?;
    let mut node = table;
    for part in parts {
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| format!("--set {assignment:?}: `{part}` is not a table"))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// Adds "did you mean `x`?" to serde's "unknown field `y`, expected one of …" messages.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let nearest = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|candidate| (strsim::levenshtein(unknown, candidate), candidate))
        .min();
    match nearest {
        Some((distance, candidate)) if distance <= unknown.len().max(3) / 2 => {
            format!("{message}; did you mean `{candidate}`?")
        }
        _ => message.to_string(),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}
