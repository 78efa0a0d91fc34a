//! The compiled evaluator against a deliberately simple reference evaluator, on random
//! packs (generated as a model, rendered to rule text with random layout, loaded with
//! `Pack::from_source`) and random leads. Both lead inputs are checked: the JSON-text fast
//! path and `serde_json::Value`.

use proptest::prelude::*;

use crate::packgen::{self, AS_OF_MS};

fn as_of() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(AS_OF_MS).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn compiled_evaluator_agrees_with_the_reference(
        model in packgen::model(),
        leads in prop::collection::vec(packgen::lead(), 1..6),
        seed in any::<u64>(),
    ) {
        let text = packgen::render(&model, seed);
        let pack = leadscore::Pack::from_source("gen", &text)
            .unwrap_or_else(|e| panic!("generated pack does not load: {e}\n{text}"));
        for lead in &leads {
            let json = packgen::lead_json(lead);
            let expected = packgen::reference(&model, lead);
            let by_value = pack.score(&json, as_of()).unwrap();
            let by_text = pack.score_json(&json.to_string(), as_of()).unwrap();
            prop_assert_eq!(&by_value, &by_text, "the two inputs disagree\n{}\n{}", text, json);
            prop_assert_eq!(packgen::observed(&by_value), expected, "\n{}\n{}\n{}", text, json, pack.program());
        }
    }
}
