//! An Arrow batch as leads, for the batches the library's Arrow reader (`Scorer::arrow`)
//! refuses: a pack with enrichment hooks, a column of a type it does not read (events as
//! JSON text are written as they are). Each row is written as the JSON object the pack's text reader takes
//! (`Scorer::score_json`), holding only what the pack reads: the columns of
//! its fields (a struct column cut down to the children on its dotted paths), and the
//! `events` column cut down to `type`, `at` and the event properties the pack tests. So
//! the rules about dotted paths, numeric strings, missing values and event checks stay in
//! one place, and a row costs a small JSON text in a reused buffer, not Python objects.
//!
//! A pack with plugins reads every column as it is: an enrichment hook sees the whole lead.
//! `Reading::project` also checks both paths' input: a naive timestamp is an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, GenericListArray, OffsetSizeTrait, RecordBatch, StringArray, StructArray};
use arrow_json::writer::{make_encoder, EncoderOptions, NullableEncoder};
use arrow_schema::{ArrowError, DataType, Field, FieldRef};

/// What a pack reads from a table, worked out once per call.
pub struct Reading {
    /// Root column names and, inside struct columns, the children on the way.
    fields: Need,
    /// The event properties read besides `type` and `at`; `None` when no events are.
    events: Option<Vec<String>>,
    /// Every column as it is (a pack with plugins).
    whole: bool,
}

/// The part of a (struct) value that is read: all of it, or some children.
#[derive(Default, Debug)]
struct Need {
    whole: bool,
    children: BTreeMap<String, Need>,
}

impl Reading {
    pub fn new(pack: &leadscore::Pack) -> Reading {
        let program = pack.program();
        let mut fields = Need::default();
        for path in program.field_paths() {
            let mut node = &mut fields;
            for segment in path.split('.') {
                node = node.children.entry(segment.to_string()).or_default();
            }
            node.whole = true;
            // A flat column named by the whole dotted path (`company.size`), as CSV has it.
            fields.children.entry(path).or_default().whole = true;
        }
        let types = program.event_types().count();
        let events = (types > 0).then(|| {
            let mut props: Vec<String> = ["type", "at"].map(String::from).to_vec();
            props.extend(program.event_properties().map(String::from));
            props
        });
        Reading {
            fields,
            events,
            whole: pack.plugin_files().next().is_some(),
        }
    }

    /// Every column as it is, for tools that look at the whole lead (outcomes: `--by`,
    /// the outcome field, suggested rules and drift read fields the pack does not).
    pub fn every() -> Reading {
        Reading {
            fields: Need::default(),
            events: None,
            whole: true,
        }
    }

    /// The columns of `batch` the pack reads, cut down to what it reads inside them.
    pub fn project(&self, batch: &RecordBatch) -> Result<Vec<Column>, ArrowError> {
        let schema = batch.schema();
        let mut columns = Vec::new();
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let name = field.name();
            let column = if name == "events" {
                match (&self.events, self.whole) {
                    (None, false) => None,
                    (props, _) => Some(events_column(field, array, props.as_deref().filter(|_| !self.whole))?),
                }
            } else if self.whole {
                Some(Column::json(name, field.clone(), array.clone()))
            } else {
                self.fields.children.get(name.as_str()).map(|need| {
                    let (field, array) = project(field, array, need);
                    Column::json(name, field, array)
                })
            };
            if let Some(column) = &column {
                if let Some(path) = naive_timestamps(column.field.name(), column.field.data_type()) {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "`{path}` holds timestamps without a timezone, whose instant is unknown; \
                         give them one (pyarrow.compute.assume_timezone(array, \"UTC\"), or a column of \
                         type timestamp(unit, tz=\"UTC\"))"
                    )));
                }
            }
            columns.extend(column);
        }
        Ok(columns)
    }
}

/// The dotted path to the first naive timestamp a type holds, if any: as with a naive
/// `as_of`, reading one as UTC would be a guess.
fn naive_timestamps(path: &str, data_type: &DataType) -> Option<String> {
    match data_type {
        DataType::Timestamp(_, None) => Some(path.to_string()),
        DataType::Struct(fields) => fields
            .iter()
            .find_map(|f| naive_timestamps(&format!("{path}.{}", f.name()), f.data_type())),
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) | DataType::LargeListView(item) => {
            naive_timestamps(&format!("{path}[]"), item.data_type())
        }
        DataType::FixedSizeList(item, _) => naive_timestamps(&format!("{path}[]"), item.data_type()),
        DataType::Map(entries, _) => naive_timestamps(path, entries.data_type()),
        DataType::Dictionary(_, values) => naive_timestamps(path, values),
        _ => None,
    }
}

/// A column a lead is written from: its JSON key and its values.
pub struct Column {
    /// `"name":`, escaped.
    key: Vec<u8>,
    field: FieldRef,
    array: ArrayRef,
    /// A string column of JSON text (events given as JSON), copied in after a check.
    raw: bool,
}

impl Column {
    fn json(name: &str, field: FieldRef, array: ArrayRef) -> Column {
        Column {
            key: key(name),
            field,
            array,
            raw: false,
        }
    }
}

fn key(name: &str) -> Vec<u8> {
    let mut key = serde_json::to_vec(name).unwrap_or_default();
    key.push(b':');
    key
}

/// A struct value cut down to the children `need` reaches; anything else as it is.
fn project(field: &FieldRef, array: &ArrayRef, need: &Need) -> (FieldRef, ArrayRef) {
    let DataType::Struct(children) = field.data_type() else {
        return (field.clone(), array.clone());
    };
    if need.whole {
        return (field.clone(), array.clone());
    }
    let strukt = array.as_struct();
    let (fields, arrays): (Vec<FieldRef>, Vec<ArrayRef>) = children
        .iter()
        .zip(strukt.columns())
        .filter_map(|(child, values)| {
            need.children
                .get(child.name().as_str())
                .map(|n| project(child, values, n))
        })
        .unzip();
    let cut = StructArray::try_new_with_length(fields.into(), arrays, strukt.nulls().cloned(), strukt.len());
    match cut {
        Ok(cut) => {
            let field = Arc::new(Field::new(field.name(), cut.data_type().clone(), field.is_nullable()));
            (field, Arc::new(cut))
        }
        Err(_) => (field.clone(), array.clone()),
    }
}

/// The `events` column: a list of structs cut down to `props` (all of them when `None`),
/// a string column of JSON text, or anything else as it is (the reader then says what is
/// wrong with it, lead by lead).
fn events_column(field: &FieldRef, array: &ArrayRef, props: Option<&[String]>) -> Result<Column, ArrowError> {
    let need = Need {
        whole: props.is_none(),
        children: props
            .unwrap_or_default()
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    Need {
                        whole: true,
                        ..Need::default()
                    },
                )
            })
            .collect(),
    };
    let text = |values: &DataType| matches!(values, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let (field, array) = match field.data_type() {
        // JSON text (plain, large, view or dictionary-encoded strings), copied in as it is.
        DataType::Dictionary(_, values) if text(values) => return text_events(array),
        data_type if text(data_type) => return text_events(array),
        DataType::List(_) => cut_list::<i32>(field, array.as_list::<i32>(), &need),
        DataType::LargeList(_) => cut_list::<i64>(field, array.as_list::<i64>(), &need),
        _ => (field.clone(), array.clone()),
    };
    Ok(Column::json("events", field, array))
}

fn text_events(array: &ArrayRef) -> Result<Column, ArrowError> {
    Ok(Column {
        key: key("events"),
        field: Arc::new(Field::new("events", DataType::Utf8, true)),
        array: arrow_cast::cast(array, &DataType::Utf8)?,
        raw: true,
    })
}

fn cut_list<O: OffsetSizeTrait>(field: &FieldRef, list: &GenericListArray<O>, need: &Need) -> (FieldRef, ArrayRef) {
    let (item, offsets, values, nulls) = list.clone().into_parts();
    let (item, values) = project(&item, &values, need);
    match GenericListArray::<O>::try_new(item, offsets, values, nulls) {
        Ok(cut) => {
            let field = Arc::new(Field::new(field.name(), cut.data_type().clone(), field.is_nullable()));
            (field, Arc::new(cut))
        }
        Err(_) => (field.clone(), Arc::new(list.clone())),
    }
}

/// Writes rows of projected columns as JSON objects; one per thread (encoders are not
/// shared).
pub struct Rows<'a> {
    columns: Vec<(&'a [u8], Writer<'a>)>,
}

enum Writer<'a> {
    Json(NullableEncoder<'a>),
    Raw(&'a StringArray),
}

impl<'a> Rows<'a> {
    pub fn new(columns: &'a [Column], options: &'a EncoderOptions) -> Result<Rows<'a>, ArrowError> {
        let columns = columns
            .iter()
            .map(|c| {
                let writer = if c.raw {
                    Writer::Raw(c.array.as_string::<i32>())
                } else {
                    let encoder = make_encoder(&c.field, c.array.as_ref(), options)
                        .map_err(|e| ArrowError::InvalidArgumentError(format!("column `{}`: {e}", c.field.name())))?;
                    Writer::Json(encoder)
                };
                Ok((c.key.as_slice(), writer))
            })
            .collect::<Result<_, ArrowError>>()?;
        Ok(Rows { columns })
    }

    /// Row `row` as a JSON object into `out` (cleared first). Null cells are left out,
    /// as a missing field; events given as JSON text must be one JSON value.
    pub fn write(&mut self, row: usize, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        out.push(b'{');
        let mut first = true;
        for (key, writer) in &mut self.columns {
            let null = match writer {
                Writer::Json(encoder) => encoder.is_null(row),
                Writer::Raw(strings) => strings.is_null(row),
            };
            if null {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(key);
            match writer {
                Writer::Json(encoder) => encoder.encode(row, out),
                Writer::Raw(strings) => {
                    let text = strings.value(row);
                    serde_json::from_str::<serde::de::IgnoredAny>(text)
                        .map_err(|e| format!("events is not valid JSON text: {e}"))?;
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out.push(b'}');
        Ok(())
    }
}
