//! The `b2b-saas` pack as one Rhai script (`b2b-saas.rhai`), compiled once and called per
//! lead: the scripting baseline the compiled evaluator is compared with.

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};
use serde_json::Value;

use super::handwritten::Summary;

/// A Rhai engine with the script compiled.
pub struct RhaiBaseline {
    engine: Engine,
    ast: AST,
}

impl RhaiBaseline {
    pub fn new() -> Result<RhaiBaseline, String> {
        let mut engine = Engine::new();
        engine.set_max_expr_depths(128, 64);
        engine.register_fn("parse_time", |text: &str| -> Result<i64, Box<EvalAltResult>> {
            chrono::DateTime::parse_from_rfc3339(text.trim())
                .map(|t| t.timestamp_millis())
                .map_err(|_| format!("`at` is not an RFC 3339 time: {text:?}").into())
        });
        let ast = engine
            .compile(include_str!("b2b-saas.rhai"))
            .map_err(|e| e.to_string())?;
        Ok(RhaiBaseline { engine, ast })
    }

    /// Calls `score(lead, as_of)`: the lead converted to a Rhai map, the result a map.
    pub fn score(&self, lead: &Value, as_of: i64) -> Result<Map, String> {
        let lead: Dynamic = rhai::serde::to_dynamic(lead).map_err(|e| e.to_string())?;
        self.engine
            .call_fn::<Map>(&mut Scope::new(), &self.ast, "score", (lead, as_of))
            .map_err(|e| e.to_string())
    }

    /// The script's result in the baselines' common shape, for comparing.
    pub fn summary(map: &Map) -> Option<Summary> {
        let text = |key: &str| map.get(key).and_then(|v| v.clone().into_string().ok());
        let float = |key: &str| map.get(key).and_then(|v| v.as_float().ok());
        let array = |key: &str| -> Option<Vec<Dynamic>> { map.get(key)?.clone().into_array().ok() };
        let mut fired = Vec::new();
        for pair in array("fired")? {
            let pair = pair.into_array().ok()?;
            let name = pair.first()?.clone().into_string().ok()?;
            fired.push((name, pair.get(1)?.as_float().ok()?));
        }
        Some(Summary {
            score: float("score")?,
            mql: map.get("mql")?.as_bool().ok()?,
            disqualified: text("disqualified"),
            route: text("route"),
            tags: array("tags")?
                .into_iter()
                .filter_map(|t| t.into_string().ok())
                .collect(),
            fit: float("fit")?,
            intent: float("intent")?,
            fired,
        })
    }
}
