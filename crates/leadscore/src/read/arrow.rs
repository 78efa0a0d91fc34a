//! The Arrow reader (feature `arrow`): leads straight from the columns of an Arrow record
//! batch, by the plan and the rules the JSON readers follow, so a row reads exactly as
//! the JSON object the batch's JSON writer would make of it (`arrow-json`, nulls left
//! out) reads from text: a null cell is a missing key, a struct is an object whose
//! children are its keys, a list is an array, a dictionary cell is its value, a
//! non-finite float is `null`. Only the columns, struct children and event properties the
//! plan names are looked at; strings are borrowed from the batch; no row becomes text.
//!
//! `events` is a list of structs with `type` and `at` (a string, or a timestamp with a
//! time zone), or a string column of JSON text (read by the text reader's events reader,
//! as if the text stood in the lead). A batch this reader cannot read as the JSON readers
//! would (a column of another type where the pack reads) is refused whole with
//! [`ArrowRefusal::Column`], before any row is read: read it as JSON instead.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, OffsetSizeTrait, RecordBatch, StructArray};
use arrow_schema::{DataType, TimeUnit};
use serde_json::Value as Json;

use super::event::check_timed;
use super::plan::{Entry, Fill, Node, ReadPlan};
use super::{ArrowRefusal, EventProblem, Events, ReadError, ReadEvents, Record};
use crate::program::Program;
use crate::value::time::Millis;
use crate::value::{Value, MAX_DEPTH};

/// The leads of one record batch, ready to be read row by row (from any thread).
pub struct ArrowLeads<'p, 'b> {
    plan: &'p ReadPlan,
    fields: Vec<FieldRead<'p, 'b>>,
    events: Option<EventsColumn<'b>>,
    rows: usize,
}

impl ReadPlan {
    /// Prepares the columns of `batch` this plan reads; an error, naming the column,
    /// when one of them is of a type the Arrow reader does not read.
    pub fn arrow<'p, 'b>(
        &'p self,
        program: &Program,
        batch: &'b RecordBatch,
    ) -> Result<ArrowLeads<'p, 'b>, ArrowRefusal> {
        let schema = batch.schema_ref();
        let mut fields = Vec::new();
        let mut events = None;
        for (i, (field, array)) in schema.fields().iter().zip(batch.columns()).enumerate() {
            let name = field.name();
            // A name given twice: the last column wins, as a repeated key does.
            if schema.fields()[i + 1..].iter().any(|later| later.name() == name) {
                continue;
            }
            let Some(entry) = self.root.get(name) else {
                continue;
            };
            if entry.events {
                events = Some(EventsColumn::new(program, array.as_ref())?);
            } else {
                fields.push(FieldRead::new(name, entry, array.as_ref())?);
            }
        }
        Ok(ArrowLeads {
            plan: self,
            fields,
            events,
            rows: batch.num_rows(),
        })
    }
}

impl<'b> ArrowLeads<'_, 'b> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Reads row `row` (`< len()`) as the JSON readers read the same lead.
    pub fn read(&self, program: &Program, row: usize, as_of: Millis) -> Result<Record<'b>, ReadError> {
        let mut fill = self.plan.fill(program);
        for field in &self.fields {
            field.read(&mut fill, row);
        }
        let mut record = fill.finish();
        if let Some(events) = &self.events {
            record.events = Events::Read(events.read(program, row, as_of)?);
        }
        Ok(record)
    }
}

/// A column (or struct child) the plan reads, with the children it reads inside it.
struct FieldRead<'p, 'b> {
    entry: &'p Entry,
    cells: Cells<'b>,
    children: Vec<FieldRead<'p, 'b>>,
}

impl<'p, 'b> FieldRead<'p, 'b> {
    fn new(path: &str, entry: &'p Entry, array: &'b dyn Array) -> Result<Self, ArrowRefusal> {
        let unreadable = || unsupported(path, array.data_type());
        let cells = Cells::new(array, 0).ok_or_else(unreadable)?;
        if entry.id && cells.id.is_none() {
            return Err(unreadable());
        }
        let children = match (&entry.child, array.as_struct_opt()) {
            (Some(node), Some(strukt)) => struct_children(path, node, strukt)?,
            _ => Vec::new(),
        };
        Ok(FieldRead { entry, cells, children })
    }

    /// Stores this cell of row `row`, and the children read inside it, as `Fill::json`
    /// stores a key's value.
    fn read(&self, fill: &mut Fill<'b>, row: usize) {
        if self.cells.is_null(row) {
            return;
        }
        if let Some(id) = &self.cells.id {
            if self.entry.id {
                fill.id(id(row));
            }
        }
        if self.entry.wants_value() {
            fill.put(self.entry, (self.cells.value)(row));
        }
        for child in &self.children {
            child.read(fill, row);
        }
    }
}

fn struct_children<'p, 'b>(
    path: &str,
    node: &'p Node,
    strukt: &'b StructArray,
) -> Result<Vec<FieldRead<'p, 'b>>, ArrowRefusal> {
    let names = strukt.fields();
    let mut children = Vec::new();
    for (i, (field, array)) in names.iter().zip(strukt.columns()).enumerate() {
        if names[i + 1..].iter().any(|later| later.name() == field.name()) {
            continue;
        }
        if let Some(entry) = node.get(field.name()) {
            children.push(FieldRead::new(
                &format!("{path}.{}", field.name()),
                entry,
                array.as_ref(),
            )?);
        }
    }
    Ok(children)
}

fn unsupported(path: &str, data_type: &DataType) -> ArrowRefusal {
    ArrowRefusal::Column {
        path: path.to_string(),
        data_type: data_type.to_string(),
    }
}

type Get<'b, T> = Box<dyn Fn(usize) -> T + Send + Sync + 'b>;

/// How to read the cells of one array: their values as the JSON readers make them, and
/// (for scalars) the JSON value an id is kept as.
struct Cells<'b> {
    array: &'b dyn Array,
    /// An array of type `Null`: every cell is null, though it has no null buffer.
    all_null: bool,
    value: Get<'b, Value<'b>>,
    id: Option<Get<'b, Json>>,
}

impl<'b> Cells<'b> {
    fn is_null(&self, i: usize) -> bool {
        self.all_null || self.array.is_null(i)
    }

    /// The cell's value, `Null` for a null cell (an array item or a dictionary value).
    fn get(&self, i: usize) -> Value<'b> {
        if self.is_null(i) {
            Value::Null
        } else {
            (self.value)(i)
        }
    }

    /// The id kept for cell `i`, `null` for a null cell.
    fn id_of(&self, i: usize) -> Json {
        match &self.id {
            Some(id) if !self.is_null(i) => id(i),
            _ => Json::Null,
        }
    }

    fn scalar(array: &'b dyn Array, value: Get<'b, Value<'b>>, id: Get<'b, Json>) -> Cells<'b> {
        Cells {
            array,
            all_null: array.data_type() == &DataType::Null,
            value,
            id: Some(id),
        }
    }

    /// `None` for a type this reader does not read (or nested deeper than values may be).
    fn new(array: &'b dyn Array, depth: usize) -> Option<Cells<'b>> {
        if depth > MAX_DEPTH {
            return None;
        }
        macro_rules! integers {
            ($($variant:ident => $ty:ty),*) => {
                match array.data_type() {
                    $(DataType::$variant => {
                        let a = array.as_primitive::<$ty>();
                        return Some(Cells::scalar(array, Box::new(move |i| Value::Num(a.value(i) as f64)), Box::new(move |i| Json::from(a.value(i)))));
                    })*
                    _ => {}
                }
            };
        }
        integers!(Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
                  UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type);
        Some(match array.data_type() {
            DataType::Null => Cells::scalar(array, Box::new(|_| Value::Null), Box::new(|_| Json::Null)),
            DataType::Boolean => {
                let a = array.as_boolean();
                Cells::scalar(
                    array,
                    Box::new(move |i| Value::Bool(a.value(i))),
                    Box::new(move |i| Json::Bool(a.value(i))),
                )
            }
            DataType::Float64 => {
                let a = array.as_primitive::<arrow_array::types::Float64Type>();
                Cells::scalar(
                    array,
                    Box::new(move |i| number(a.value(i))),
                    Box::new(move |i| Json::from(a.value(i))),
                )
            }
            DataType::Float32 => {
                // As its JSON text (the shortest digits that give the f32 back) reads:
                // 0.1f32 is 0.1, not 0.10000000149.
                let a = array.as_primitive::<arrow_array::types::Float32Type>();
                let f = move |i: usize| a.value(i).to_string().parse::<f64>().unwrap_or(f64::NAN);
                Cells::scalar(
                    array,
                    Box::new(move |i| number(f(i))),
                    Box::new(move |i| Json::from(f(i))),
                )
            }
            DataType::Utf8 => strings(array, array.as_string::<i32>(), |a, i| a.value(i)),
            DataType::LargeUtf8 => strings(array, array.as_string::<i64>(), |a, i| a.value(i)),
            DataType::Utf8View => strings(array, array.as_string_view(), |a, i| a.value(i)),
            DataType::Struct(_) => Cells {
                array,
                all_null: false,
                value: Box::new(|_| Value::Object),
                id: None,
            },
            DataType::List(_) => list(array, array.as_list::<i32>(), depth)?,
            DataType::LargeList(_) => list(array, array.as_list::<i64>(), depth)?,
            DataType::Dictionary(_, _) => {
                let dictionary = array.as_any_dictionary();
                let values = Arc::new(Cells::new(dictionary.values().as_ref(), depth)?);
                let keys: Arc<[usize]> = dictionary.normalized_keys().into();
                let id = values.id.is_some().then(|| -> Get<'b, Json> {
                    let (values, keys) = (values.clone(), keys.clone());
                    Box::new(move |i| values.id_of(keys[i]))
                });
                Cells {
                    array,
                    all_null: false,
                    value: Box::new(move |i| values.get(keys[i])),
                    id,
                }
            }
            _ => return None,
        })
    }
}

/// A float as JSON has it: a non-finite one is written `null`.
fn number(n: f64) -> Value<'static> {
    if n.is_finite() {
        Value::Num(n)
    } else {
        Value::Null
    }
}

fn strings<'b, A: Sync>(array: &'b dyn Array, typed: &'b A, text: fn(&'b A, usize) -> &'b str) -> Cells<'b> {
    Cells::scalar(
        array,
        Box::new(move |i| Value::Str(Cow::Borrowed(text(typed, i)))),
        Box::new(move |i| Json::String(text(typed, i).to_string())),
    )
}

fn list<'b, O: OffsetSizeTrait>(
    array: &'b dyn Array,
    list: &'b arrow_array::GenericListArray<O>,
    depth: usize,
) -> Option<Cells<'b>> {
    let items = Cells::new(list.values().as_ref(), depth + 1)?;
    let offsets = list.value_offsets();
    Some(Cells {
        array,
        all_null: false,
        value: Box::new(move |i| Value::List(range(offsets, i).map(|j| items.get(j)).collect())),
        id: None,
    })
}

fn range<O: OffsetSizeTrait>(offsets: &[O], i: usize) -> Range<usize> {
    offsets[i].as_usize()..offsets[i + 1].as_usize()
}

/// The `events` column: a list of event structs, or JSON text.
enum EventsColumn<'b> {
    List(EventsRead<'b>),
    /// Each cell the JSON text of an `events` array (a null cell is no events).
    Text(&'b dyn Array, Get<'b, &'b str>),
}

impl<'b> EventsColumn<'b> {
    fn new(program: &Program, array: &'b dyn Array) -> Result<Self, ArrowRefusal> {
        let text: Get<'b, &'b str> = match array.data_type() {
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                Box::new(move |i| a.value(i))
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                Box::new(move |i| a.value(i))
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                Box::new(move |i| a.value(i))
            }
            _ => return EventsRead::new(program, array).map(EventsColumn::List),
        };
        Ok(EventsColumn::Text(array, text))
    }

    fn read(&self, program: &Program, row: usize, as_of: Millis) -> Result<ReadEvents<'b>, ReadError> {
        match self {
            EventsColumn::List(list) => list.read(program, row, as_of),
            EventsColumn::Text(array, _) if array.is_null(row) => Ok(ReadEvents::default()),
            EventsColumn::Text(_, text) => super::text::read_events(program, text(row), as_of),
        }
    }
}

/// A list of event structs, with the children the program reads.
struct EventsRead<'b> {
    list: &'b dyn Array,
    ranges: Get<'b, Range<usize>>,
    /// The events, `None` when they are not structs.
    items: Option<&'b StructArray>,
    ty: Option<Cells<'b>>,
    at: At<'b>,
    /// Per property slot of the program, its child (`None` when the events have none).
    props: Vec<Option<Cells<'b>>>,
}

/// Where an event's time is: a string, a timestamp (as milliseconds), or nowhere.
enum At<'b> {
    Text(Cells<'b>),
    Stamp(&'b dyn Array, Get<'b, Option<Millis>>),
    Missing,
}

impl<'b> EventsRead<'b> {
    fn new(program: &Program, array: &'b dyn Array) -> Result<Self, ArrowRefusal> {
        let unreadable = |path: &str, array: &dyn Array| unsupported(path, array.data_type());
        let (ranges, values): (Get<'b, Range<usize>>, _) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets();
                (Box::new(move |i| range(offsets, i)), list.values())
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.value_offsets();
                (Box::new(move |i| range(offsets, i)), list.values())
            }
            _ => return Err(unreadable("events", array)),
        };
        // Items that are not structs (a list of nulls, as an all-empty column is typed)
        // are events that are not objects, as in JSON.
        let items = values.as_struct_opt();
        let child = |name: &str| {
            items
                .and_then(|items| items.column_by_name(name))
                .map(|c| (format!("events[].{name}"), c.as_ref()))
        };
        let ty = match child("type") {
            Some((path, column)) => Some(Cells::new(column, 1).ok_or_else(|| unreadable(&path, column))?),
            None => None,
        };
        let at = match child("at") {
            Some((path, column)) => At::new(column).ok_or_else(|| unreadable(&path, column))?,
            None => At::Missing,
        };
        let props = program
            .event_props
            .iter()
            .map(|name| match child(name) {
                Some((path, column)) => Cells::new(column, 1).map(Some).ok_or_else(|| unreadable(&path, column)),
                None => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(EventsRead {
            list: array,
            ranges,
            items,
            ty,
            at,
            props,
        })
    }

    /// Row `row`'s events of the types the program uses, up to `as_of`, with the
    /// properties their types' matchers read; checked as the JSON readers check them.
    fn read(&self, program: &Program, row: usize, as_of: Millis) -> Result<ReadEvents<'b>, ReadError> {
        let mut events = ReadEvents::default();
        if self.list.is_null(row) {
            return Ok(events);
        }
        let range = (self.ranges)(row);
        let first = range.start;
        for j in range {
            let bad = |problem| ReadError::BadEvent {
                index: j - first,
                problem,
            };
            if self.items.is_none_or(|items| items.is_null(j)) {
                return Err(bad(EventProblem::NotAnObject));
            }
            let ty = self.ty.as_ref().filter(|c| !c.is_null(j)).map(|c| (c.value)(j));
            let ty = match &ty {
                Some(Value::Str(s)) => Some(s.as_ref()),
                _ => None,
            };
            let Some((ty, at)) = check_timed(program, ty, as_of, || self.at.millis(j)).map_err(bad)? else {
                continue;
            };
            let base = events.next_base();
            let wanted = program.props_by_type.get(ty as usize).map_or(&[][..], Vec::as_slice);
            for &slot in wanted {
                if let Some(Some(cells)) = self.props.get(slot as usize) {
                    if !cells.is_null(j) {
                        events.set_prop(base, slot, (cells.value)(j));
                    }
                }
            }
            events.push(ty, at, base);
        }
        Ok(events)
    }
}

impl<'b> At<'b> {
    fn new(column: &'b dyn Array) -> Option<At<'b>> {
        use arrow_array::types::{
            TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
        };
        let DataType::Timestamp(unit, Some(_)) = column.data_type() else {
            return Cells::new(column, 1).map(At::Text);
        };
        // Whole milliseconds, rounded down, as a time written with more digits parses.
        let millis: Get<'b, Option<Millis>> = match unit {
            TimeUnit::Second => {
                let a = column.as_primitive::<TimestampSecondType>();
                Box::new(move |i| a.value(i).checked_mul(1000))
            }
            TimeUnit::Millisecond => {
                let a = column.as_primitive::<TimestampMillisecondType>();
                Box::new(move |i| Some(a.value(i)))
            }
            TimeUnit::Microsecond => {
                let a = column.as_primitive::<TimestampMicrosecondType>();
                Box::new(move |i| Some(a.value(i).div_euclid(1000)))
            }
            TimeUnit::Nanosecond => {
                let a = column.as_primitive::<TimestampNanosecondType>();
                Box::new(move |i| Some(a.value(i).div_euclid(1_000_000)))
            }
        };
        Some(At::Stamp(column, millis))
    }

    /// Event `j`'s time, or why it has none.
    fn millis(&self, j: usize) -> Result<Millis, EventProblem> {
        match self {
            At::Text(cells) if !cells.is_null(j) => match (cells.value)(j) {
                Value::Str(text) => {
                    crate::value::time::parse_time(&text).ok_or_else(|| EventProblem::BadTime(text.into_owned()))
                }
                _ => Err(EventProblem::NoTime),
            },
            At::Stamp(column, millis) if !column.is_null(j) => {
                millis(j).ok_or_else(|| EventProblem::BadTime("a timestamp out of range".to_string()))
            }
            _ => Err(EventProblem::NoTime),
        }
    }
}
