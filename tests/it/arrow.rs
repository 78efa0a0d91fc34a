//! The Arrow reader (`Scorer::arrow`, feature `arrow`) against its contract: a row scores
//! exactly as the JSON object arrow-json writes of it (null cells left out) scores as
//! text, field by field of the result, on generated leads and on batches holding every
//! type the reader reads; a batch it cannot read so is refused whole, naming the column.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder, TimestampMillisecondBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, Float64Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, StructArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use serde_json::{json, Value as Json};

fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time("2026-03-01T00:00:00Z").unwrap()
}

/// A batch of JSON leads, its schema inferred as a user's pyarrow table would have it.
pub(crate) fn batch_of(leads: &[Json]) -> RecordBatch {
    try_batch_of(leads).unwrap()
}

/// [`batch_of`], or `None` for leads arrow-json cannot make a table of (a key holding
/// objects in one place and numbers in another).
pub(crate) fn try_batch_of(leads: &[Json]) -> Option<RecordBatch> {
    let schema = arrow_json::reader::infer_json_schema_from_iterator(leads.iter().map(Ok)).ok()?;
    let mut decoder = arrow_json::ReaderBuilder::new(Arc::new(schema)).build_decoder().ok()?;
    decoder.serialize(leads).ok()?;
    decoder.flush().ok()?
}

/// Each row as arrow-json writes it: the JSON object the Arrow reader must agree with.
pub(crate) fn rows_as_json(batch: &RecordBatch) -> Vec<String> {
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    String::from_utf8(writer.into_inner())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Scores every row both ways and says how many scored (not errors); panics on the first
/// row where the two disagree.
pub(crate) fn assert_rows_agree(pack: &leadscore::Pack, batch: &RecordBatch) -> usize {
    let scorer = pack.scorer(as_of());
    let leads = scorer.arrow(batch).unwrap_or_else(|e| panic!("refused: {e}"));
    let texts = rows_as_json(batch);
    assert_eq!(leads.len(), texts.len());
    let mut scored = 0;
    for (row, text) in texts.iter().enumerate() {
        let by_arrow = leads.score(row).map_err(|e| e.to_string());
        let by_text = scorer.score_json(text).map_err(|e| e.to_string());
        assert_eq!(by_arrow, by_text, "row {row}: {text}");
        scored += usize::from(by_arrow.is_ok());
    }
    scored
}

fn generated(n: usize) -> Vec<Json> {
    let mut gen = leadscore::gen::Generator::new(1).events_per_lead(20);
    (0..n)
        .map(|_| {
            let mut lead = serde_json::to_value(gen.next_lead()).unwrap();
            // One type per column, as in a table: sizes as text (`leadscore gen` mixes both).
            if let Some(size) = lead.pointer_mut("/company/size") {
                *size = Json::String(size.to_string().trim_matches('"').to_string());
            }
            lead
        })
        .collect()
}

#[test]
fn generated_leads_score_from_columns_as_from_their_json() {
    let leads = generated(2000);
    let batch = batch_of(&leads);
    // (rules/agency has an enrichment hook: refused, see below.)
    for pack in ["rules/b2b-saas", "rules/fintech"] {
        let pack = leadscore::Loader::new().load(std::path::Path::new(pack)).unwrap();
        assert_eq!(
            assert_rows_agree(&pack, &batch),
            leads.len(),
            "every generated lead scores"
        );
        // And as `leadscore score` reads the lead itself.
        let scorer = pack.scorer(as_of());
        let arrow = scorer.arrow(&batch).unwrap();
        for (row, lead) in leads.iter().enumerate().step_by(97) {
            assert_eq!(arrow.score(row).unwrap(), scorer.score(lead).unwrap(), "row {row}");
        }
    }
}

/// A pack that reads every kind of column below.
const EVERY_TYPE: &str = r#"
threshold 10
rule "Title": title ~ VP => +10
rule "Tier": tier == "gold" => +3
rule "Size": company.size > 100 => +5
rule "Flat": `company.region` == "EU" => +2
rule "Ratio": ratio >= 0.1 => +1
rule "Half": half == 0.5 => +1
rule "Tenth": half == 0.1 => +1
rule "Missing ratio": ratio is missing => +7
rule "Big": big > 9000000000000000000 => +1
rule "Flag": flag == true => +1
rule "Tags": tags contains "b" => +4
rule "Long": long_text contains "x" => +1
rule "View": view_text == "v" => +1
rule "Pricing": visited /pricing => +20
rule "Demo": submitted demo-request within 30d => +30
rule "Company": company exists => +1
"#;

fn every_type_batch() -> RecordBatch {
    let title: DictionaryArray<arrow_array::types::Int32Type> =
        vec![Some("VP Sales"), None, Some("Intern"), Some("VP Sales")]
            .into_iter()
            .collect();
    let company_fields = Fields::from(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("size", DataType::Int64, true),
    ]);
    let company = StructArray::new(
        company_fields,
        vec![
            Arc::new(StringArray::from(vec![Some("A"), Some("B"), None, Some("D")])) as ArrayRef,
            Arc::new(Int64Array::from(vec![Some(500), None, Some(50), Some(101)])),
        ],
        Some(vec![true, true, false, true].into()),
    );
    let mut str_tags = ListBuilder::new(StringBuilder::new());
    for row in [vec!["a", "b"], vec![], vec!["b"], vec!["c"]] {
        for tag in row {
            str_tags.values().append_value(tag);
        }
        str_tags.append(true);
    }
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(UInt64Array::from(vec![9_007_199_254_740_993, 2, 3, 4])) as ArrayRef,
        ),
        ("title", Arc::new(title)),
        (
            "tier",
            Arc::new(StringArray::from(vec![
                Some("gold"),
                Some("silver"),
                None,
                Some("gold"),
            ])),
        ),
        ("company", Arc::new(company)),
        (
            "company.region",
            Arc::new(StringArray::from(vec![Some("EU"), Some("US"), Some("EU"), None])),
        ),
        (
            "ratio",
            Arc::new(Float64Array::from(vec![Some(0.25), Some(f64::NAN), None, Some(0.1)])),
        ),
        ("half", Arc::new(Float32Array::from(vec![0.5, 0.1, 0.5, 2.0]))),
        (
            "big",
            Arc::new(UInt64Array::from(vec![u64::MAX, 1, 0, 9_000_000_000_000_000_001])),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
        ),
        ("tags", Arc::new(str_tags.finish())),
        ("long_text", Arc::new(LargeStringArray::from(vec!["x", "y", "xx", ""]))),
        ("view_text", Arc::new(StringViewArray::from(vec!["v", "w", "v", "v"]))),
        (
            "events",
            events(&[
                &[
                    Some(("page_view", Some(1_772_000_000_000), Some("/pricing"), None)),
                    Some(("form_submit", Some(1_771_000_000_000), None, Some("demo-request"))),
                ],
                &[],
                &[Some(("page_view", Some(1_900_000_000_000), Some("/pricing"), None))],
                &[Some(("email_open", Some(1), None, None))],
            ]),
        ),
        // Read by no rule: neither its type nor its values matter.
        ("signed_up", Arc::new(Date32Array::from(vec![1, 2, 3, 4]))),
    ])
    .unwrap()
}

type Event<'a> = (&'a str, Option<i64>, Option<&'a str>, Option<&'a str>);

/// An `events` column of `(type, at in ms, path, form)` (`None`: a null event), `at` a
/// timestamp in UTC.
fn events(rows: &[&[Option<Event>]]) -> ArrayRef {
    let fields = vec![
        Field::new("type", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        Field::new("path", DataType::Utf8, true),
        Field::new("form", DataType::Utf8, true),
    ];
    let item = StructBuilder::new(
        fields,
        vec![
            Box::new(StringBuilder::new()),
            Box::new(TimestampMillisecondBuilder::new().with_timezone("+00:00")),
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
        ],
    );
    let mut list = ListBuilder::new(item);
    for row in rows {
        for event in row.iter() {
            let (ty, at, path, form) = event.unwrap_or(("", None, None, None));
            let item = list.values();
            item.field_builder::<StringBuilder>(0).unwrap().append_value(ty);
            item.field_builder::<TimestampMillisecondBuilder>(1)
                .unwrap()
                .append_option(at);
            item.field_builder::<StringBuilder>(2).unwrap().append_option(path);
            item.field_builder::<StringBuilder>(3).unwrap().append_option(form);
            item.append(event.is_some());
        }
        list.append(true);
    }
    Arc::new(list.finish())
}

#[test]
fn every_type_the_reader_reads_scores_as_its_json() {
    let pack = leadscore::Pack::from_source("types", EVERY_TYPE).unwrap();
    let batch = every_type_batch();
    assert_eq!(assert_rows_agree(&pack, &batch), 4);
    let leads = pack.scorer(as_of());
    let leads = leads.arrow(&batch).unwrap();
    let first = leads.score(0).unwrap();
    assert_eq!(
        first.id,
        Some(json!(9_007_199_254_740_993_u64)),
        "a 64-bit id stays exact"
    );
    let fired: Vec<&str> = first.fired().map(|f| f.rule()).collect();
    assert_eq!(
        fired,
        [
            "Title", "Tier", "Size", "Flat", "Ratio", "Half", "Big", "Flag", "Tags", "Long", "View", "Pricing", "Demo",
            "Company"
        ]
    );
    let second: Vec<String> = leads.score(1).unwrap().fired().map(|f| f.rule().to_string()).collect();
    assert_eq!(
        second,
        ["Tenth", "Missing ratio", "Company"],
        "NaN reads as null; the flat `company.region` is US"
    );
}

#[test]
fn a_bad_event_is_that_rows_error_with_the_json_readers_message() {
    let pack = leadscore::Pack::from_source("p", "visited /pricing => +5").unwrap();
    let leads = [
        json!({"id": 1, "events": [{"type": "page_view", "at": "2026-02-01T00:00:00Z", "path": "/pricing"}]}),
        json!({"id": 2, "events": [{"type": "page_view", "at": "yesterday", "path": "/pricing"}]}),
        json!({"id": 3, "events": [{"type": "page_view", "path": "/pricing"}]}),
        json!({"id": 4, "events": [{"at": "2026-02-01T00:00:00Z", "path": "/pricing"}]}),
        json!({"id": 6}),
    ];
    let batch = batch_of(&leads);
    assert_eq!(assert_rows_agree(&pack, &batch), 2, "rows 1 and 5 score");
    let scorer = pack.scorer(as_of());
    let leads = scorer.arrow(&batch).unwrap();
    let errors: Vec<String> = (1..4).map(|row| leads.score(row).unwrap_err().to_string()).collect();
    assert_eq!(
        errors,
        [
            r#"events[0] `at` is not an RFC 3339 time: "yesterday""#,
            "events[0] has no `at` time",
            "events[0] has no `type` string",
        ]
    );
    // A null event, after a good one.
    let ok = ("page_view", Some(1_772_000_000_000), Some("/pricing"), None);
    let batch = RecordBatch::try_from_iter([("events", events(&[&[Some(ok), None], &[Some(ok)]]))]).unwrap();
    assert_eq!(assert_rows_agree(&pack, &batch), 1);
    let scorer = pack.scorer(as_of());
    let err = scorer.arrow(&batch).unwrap().score(0).unwrap_err();
    assert_eq!(err.to_string(), "events[1] is not an object");
    // Events that are not structs (all-empty lists are typed list<null>) are not objects.
    for leads in [
        [json!({"events": []}), json!({"events": [null]})],
        [json!({"events": []}), json!({"events": [7]})],
    ] {
        let batch = batch_of(&leads);
        assert_eq!(assert_rows_agree(&pack, &batch), 1);
        let err = scorer.arrow(&batch).unwrap().score(1).unwrap_err();
        assert_eq!(err.to_string(), "events[0] is not an object");
    }
}

#[test]
fn a_column_it_does_not_read_is_refused_by_name_and_hooks_are_refused() {
    let pack = leadscore::Pack::from_source("p", "signed_up exists => +5").unwrap();
    let batch = every_type_batch();
    let err = pack.scorer(as_of()).arrow(&batch).err().unwrap();
    assert_eq!(
        err.to_string(),
        "`signed_up` is an Arrow column of type Date32, which leads are not read from directly"
    );
    let numbers = batch_of(&[json!({"events": 5})]);
    let events = leadscore::Pack::from_source("p", "visited /pricing => +5").unwrap();
    let err = events.scorer(as_of()).arrow(&numbers).err().unwrap();
    assert!(
        matches!(err, leadscore::ArrowRefusal::Column { ref path, .. } if path == "events"),
        "{err}"
    );

    let hooks = leadscore::Loader::new()
        .plugin_path(["plugins"])
        .from_source("p", "plugin \"seniority\"\ntitle ~ VP => +5")
        .unwrap();
    let err = hooks.scorer(as_of()).arrow(&batch).err().unwrap();
    assert_eq!(err, leadscore::ArrowRefusal::Hooks);
}

#[test]
fn a_column_of_type_null_is_missing_everywhere() {
    let pack = leadscore::Pack::from_source("p", "title is missing => +5\nid is missing => +1").unwrap();
    let batch = batch_of(&[json!({"id": null, "title": null}), json!({"id": null})]);
    assert_eq!(batch.schema().field(0).data_type(), &DataType::Null);
    assert_eq!(assert_rows_agree(&pack, &batch), 2);
    let scorer = pack.scorer(as_of());
    let outcome = scorer.arrow(&batch).unwrap().score(0).unwrap();
    assert_eq!((outcome.id, outcome.score), (None, 6.0));
}

#[test]
#[should_panic(expected = "row 2 is past the end of a batch of 2 rows")]
fn a_row_past_the_end_is_a_panic_that_says_so() {
    let pack = leadscore::Pack::from_source("p", "title is missing => +5").unwrap();
    let batch = batch_of(&[json!({"title": "VP"}), json!({"title": "CEO"})]);
    let scorer = pack.scorer(as_of());
    let _ = scorer.arrow(&batch).unwrap().score(2);
}

#[test]
fn events_as_json_text_read_as_if_the_text_stood_in_the_lead() {
    let pack =
        leadscore::Pack::from_source("p", "visited /pricing => +5 each\ndownloaded \"case-study*\" => +7").unwrap();
    let scorer = pack.scorer(as_of());
    let cells = [
        Some(
            r#"[{"type": "page_view", "at": "2026-02-01T00:00:00Z", "path": "/pricing"},
                 {"type": "download", "at": "2026-02-02T00:00:00Z", "asset": "case-study-acme"},
                 {"type": "page_view", "at": "2026-02-03T00:00:00Z", "path": "/pricing", "x": [1, {}]}]"#,
        ),
        Some("[]"),
        Some("null"),
        None,
        Some(r#"[{"type": "page_view", "at": "2026-04-01T00:00:00Z", "path": "/pricing"}]"#),
        Some(r#"[{"type": "page_view", "path": "/pricing"}]"#),
        Some("[7]"),
        Some("5"),
        Some(r#"{"type": "page_view"}"#),
    ];
    let arrays: [ArrayRef; 3] = [
        Arc::new(StringArray::from(cells.to_vec())),
        Arc::new(LargeStringArray::from(cells.to_vec())),
        Arc::new(StringViewArray::from(cells.to_vec())),
    ];
    for events in arrays {
        let batch = RecordBatch::try_from_iter([("events", events)]).unwrap();
        let leads = scorer.arrow(&batch).unwrap();
        for (row, cell) in cells.iter().enumerate() {
            // The lead with the text standing as its `events` (no key for a null cell).
            let text = cell.map_or("{}".to_string(), |events| format!(r#"{{"events": {events}}}"#));
            let by_arrow = leads.score(row).map_err(|e| e.to_string());
            let by_text = scorer.score_json(&text).map_err(|e| e.to_string());
            assert_eq!(by_arrow, by_text, "row {row}: {text}");
        }
        assert_eq!(leads.score(0).unwrap().score, 17.0);
    }
    // Text that is not JSON is that row's error; the rows around it score.
    let bad = [Some("[]"), Some(r#"[{"type": "page_view""#), Some("[] x"), Some("[]")];
    let batch =
        RecordBatch::try_from_iter([("events", Arc::new(StringArray::from(bad.to_vec())) as ArrayRef)]).unwrap();
    let leads = scorer.arrow(&batch).unwrap();
    let results: Vec<Result<f64, String>> = (0..4)
        .map(|row| leads.score(row).map(|o| o.score).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(results[0], Ok(0.0));
    assert_eq!(
        results[1],
        Err("events is not valid JSON text: EOF while parsing an object at line 1 column 21".into())
    );
    assert_eq!(
        results[2],
        Err("events is not valid JSON text: trailing characters at line 1 column 4".into())
    );
    assert_eq!(results[3], Ok(0.0));
}

#[test]
fn a_dictionary_column_with_no_values_is_missing_not_a_panic() {
    use arrow_array::types::Int32Type;
    let pack = leadscore::Pack::from_source("p", "title is missing => +5\nvisited /pricing => +1").unwrap();
    let scorer = pack.scorer(as_of());
    let empty: DictionaryArray<Int32Type> = vec![None::<&str>, None].into_iter().collect();
    assert_eq!(arrow_array::Array::len(empty.values()), 0);
    let batch = RecordBatch::try_from_iter([
        ("title", Arc::new(empty.clone()) as ArrayRef),
        ("events", Arc::new(empty) as ArrayRef),
    ])
    .unwrap();
    let leads = scorer.arrow(&batch).unwrap();
    for row in 0..2 {
        assert_eq!(leads.score(row).unwrap().score, 5.0);
    }
    // An empty batch of every dictionary column (what a refusal check builds) is read too.
    assert!(scorer.arrow(&RecordBatch::new_empty(batch.schema())).is_ok());
}

#[test]
fn dictionary_encoded_events_text_reads_as_plain_text() {
    use arrow_array::types::Int32Type;
    let pack = leadscore::Pack::from_source("p", "visited /pricing => +5 each").unwrap();
    let scorer = pack.scorer(as_of());
    let pricing = r#"[{"type": "page_view", "at": "2026-02-01T00:00:00Z", "path": "/pricing"}]"#;
    let cells = vec![Some(pricing), None, Some("[]"), Some(pricing), Some("[7]")];
    let encoded: DictionaryArray<Int32Type> = cells.clone().into_iter().collect();
    let plain = RecordBatch::try_from_iter([("events", Arc::new(StringArray::from(cells)) as ArrayRef)]).unwrap();
    let encoded = RecordBatch::try_from_iter([("events", Arc::new(encoded) as ArrayRef)]).unwrap();
    let (plain, encoded) = (scorer.arrow(&plain).unwrap(), scorer.arrow(&encoded).unwrap());
    for row in 0..5 {
        let by_plain = plain.score(row).map(|o| o.score).map_err(|e| e.to_string());
        assert_eq!(
            encoded.score(row).map(|o| o.score).map_err(|e| e.to_string()),
            by_plain,
            "row {row}"
        );
    }
    assert_eq!(encoded.score(3).unwrap().score, 5.0);
}
