//! `Pack.score_arrow`: a stream of record batches scored in chunks of about [`CHUNK`]
//! rows, whatever sizes the batches have. Small batches are joined (a batch's setup, the
//! columns' readers and a trip to the pool, is paid once per chunk, not once per batch),
//! large ones are cut, and the call checks for signals between chunks. The results'
//! `id` column is a copy, so the input's batches are freed once scored, not kept alive
//! by the results.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::{make_array, Array, ArrayRef, Int64Array, RecordBatch, RecordBatchReader, UInt32Array};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_json::writer::EncoderOptions;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::results::{self, Scored};
use crate::{guard, rows, times};

/// Rows per chunk: large enough that a chunk's setup (joining batches, the columns'
/// readers) is nothing beside its rows.
const CHUNK: usize = 32_768;

/// Rows scored between two checks for signals: a few milliseconds' work, so Ctrl-C is
/// seen well within a second.
const PIECE: usize = 2048;

/// When each row is scored as of.
pub enum When {
    /// Every row as of one time.
    At(DateTime<Utc>),
    /// Each row as of the time in this column (RFC 3339 text or a timestamp with a
    /// timezone), as `--as-of-field` judges each lead as of its own time.
    Field(String),
}

/// What one `score_arrow` call scores with.
pub struct Batches<'a> {
    pub pack: &'a leadscore::Pack,
    pub when: When,
    pub id_field: &'a str,
    pub pool: &'a leadscore::batch::Pool,
}

impl Batches<'_> {
    /// Every row of `reader`, in order, as result batches; and the id column's type.
    pub fn score(
        &self,
        py: Python<'_>,
        mut reader: Box<dyn RecordBatchReader + Send>,
    ) -> PyResult<(Vec<RecordBatch>, DataType)> {
        let schema = reader.schema();
        refuse_repeated_names(&schema)?;
        if let When::Field(field) = &self.when {
            times::check(&schema, field).map_err(PyValueError::new_err)?;
        }
        let id_type = match schema.field_with_name(self.id_field) {
            Ok(field) => field.data_type().clone(),
            Err(_) => DataType::Int64,
        };
        let reading = rows::Reading::new(self.pack);
        let mut chunk = Chunk::default();
        let mut scored = Vec::new();
        let mut number = 0usize;
        while let Some(batch) = next_batch(&mut reader, &schema, number)? {
            number += 1;
            let mut offset = 0;
            while offset < batch.num_rows() {
                let take = (CHUNK - chunk.rows).min(batch.num_rows() - offset);
                chunk.add(batch.slice(offset, take));
                offset += take;
                if chunk.rows == CHUNK {
                    scored.push(self.score_chunk(py, &reading, &schema, &mut chunk)?);
                }
            }
        }
        if chunk.rows > 0 {
            scored.push(self.score_chunk(py, &reading, &schema, &mut chunk)?);
        }
        Ok((scored, id_type))
    }

    /// Scores the rows gathered in `chunk` (emptying it), then checks for signals.
    fn score_chunk(
        &self,
        py: Python<'_>,
        reading: &rows::Reading,
        schema: &SchemaRef,
        chunk: &mut Chunk,
    ) -> PyResult<RecordBatch> {
        let first_row = chunk.first_row;
        let batches = std::mem::take(&mut chunk.batches);
        chunk.first_row += chunk.rows;
        chunk.rows = 0;
        let batch = match <[RecordBatch; 1]>::try_from(batches) {
            Ok([batch]) => batch,
            Err(batches) => arrow_select::concat::concat_batches(schema, &batches).map_err(value_error)?,
        };
        self.score_batch(py, reading, &batch, first_row)
    }

    /// Scores one batch in parallel, [`PIECE`] rows at a time with signals checked in
    /// between: read straight from its columns by the library's Arrow reader, or, for a
    /// batch that reader refuses (a pack with enrichment hooks, a column of a type it does
    /// not read), each row written as JSON of what the pack reads and read as text.
    fn score_batch(
        &self,
        py: Python<'_>,
        reading: &rows::Reading,
        batch: &RecordBatch,
        first_row: usize,
    ) -> PyResult<RecordBatch> {
        // The columns the pack reads, checked (naive timestamps are an error) on both paths.
        let columns = reading.project(batch).map_err(value_error)?;
        let (as_of, times) = match &self.when {
            When::At(at) => (*at, None),
            When::Field(field) => (
                DateTime::<Utc>::UNIX_EPOCH,
                Some(times::Times::new(batch, field).map_err(value_error)?),
            ),
        };
        let scorer = self.pack.scorer(as_of);
        let leads = scorer.arrow(batch);
        let rows = batch.num_rows();
        let mut scored: Vec<Scored> = Vec::with_capacity(rows);
        for start in (0..rows).step_by(PIECE) {
            let piece = start..(start + PIECE).min(rows);
            let part = py.detach(|| {
                self.pool.run(|| match &leads {
                    Ok(leads) => Ok(piece
                        .into_par_iter()
                        .with_min_len(64)
                        .map(|row| match &times {
                            None => leads.score(row).map_err(|e| e.to_string()),
                            Some(times) => leads.score_at(row, times.at(row)?).map_err(|e| e.to_string()),
                        })
                        .collect()),
                    Err(_) => score_as_json(self.pack, &scorer, times.as_ref(), &columns, piece),
                })
            });
            scored.extend(part.map_err(value_error)?);
            py.check_signals()?;
        }
        let ids: ArrayRef = match batch.column_by_name(self.id_field) {
            Some(ids) => owned(ids).map_err(value_error)?,
            None => {
                let numbers = (first_row..first_row + rows).map(|i| i as i64 + 1);
                Arc::new(Int64Array::from_iter_values(numbers))
            }
        };
        results::batch(ids, &scored).map_err(value_error)
    }
}

/// Rows gathered to be scored together.
#[derive(Default)]
struct Chunk {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// The stream's row number of the first row (for ids when there is no id column).
    first_row: usize,
}

impl Chunk {
    fn add(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows();
        self.batches.push(batch);
    }
}

/// The stream's next batch, checked against its schema. A stream that breaks its own
/// promise (a batch that does not match the declared schema) is a `ValueError`, also
/// when the import itself fails on it.
fn next_batch(
    reader: &mut Box<dyn RecordBatchReader + Send>,
    schema: &SchemaRef,
    number: usize,
) -> PyResult<Option<RecordBatch>> {
    let malformed =
        |why: String| PyValueError::new_err(format!("batch {} of the Arrow stream is malformed: {why}", number + 1));
    let next =
        catch_unwind(AssertUnwindSafe(|| reader.next())).map_err(|panic| malformed(guard::message(panic.as_ref())))?;
    let Some(batch) = next.transpose().map_err(|e| malformed(e.to_string()))? else {
        return Ok(None);
    };
    if batch.schema().fields() != schema.fields() {
        return Err(malformed(format!(
            "its columns are {}, not the stream's {}",
            batch
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", "),
            schema
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", "),
        )));
    }
    Ok(Some(batch))
}

/// A table with two columns of one name is refused: which one a field is read from would
/// be a guess.
fn refuse_repeated_names(schema: &SchemaRef) -> PyResult<()> {
    let mut seen = HashSet::new();
    for field in schema.fields() {
        if !seen.insert(field.name().as_str()) {
            return Err(PyValueError::new_err(format!(
                "the data has more than one column named `{}`; rename or drop all but one",
                field.name()
            )));
        }
    }
    Ok(())
}

/// The rows of projected columns written as JSON objects and scored as text, each as of
/// its own time when `times` is given.
fn score_as_json(
    pack: &leadscore::Pack,
    scorer: &leadscore::Scorer<'_>,
    times: Option<&times::Times>,
    columns: &[rows::Column],
    range: std::ops::Range<usize>,
) -> Result<Vec<Scored>, ArrowError> {
    let options = EncoderOptions::default();
    // Made once here so that a column of a type that cannot be written fails the call.
    rows::Rows::new(columns, &options)?;
    Ok(range
        .into_par_iter()
        .with_min_len(64)
        .map_init(
            || {
                (
                    rows::Rows::new(columns, &options).map_err(|e| e.to_string()),
                    Vec::new(),
                )
            },
            |(rows, text), row| {
                let rows = rows.as_mut().map_err(|e| e.clone())?;
                rows.write(row, text)?;
                let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
                match times {
                    None => scorer.score_json(text),
                    Some(times) => pack.scorer(times.at(row)?).score_json(text),
                }
                .map_err(|e| e.to_string())
            },
        )
        .collect())
}

/// A copy of `array` in buffers of its own: the rows it has (`take`), then every buffer
/// copied (a dictionary's values too, which `take` shares), so nothing of the input's
/// memory is kept.
fn owned(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let len = u32::try_from(array.len()).map_err(|_| ArrowError::ComputeError("a chunk too long".into()))?;
    let taken = arrow_select::take::take(array.as_ref(), &UInt32Array::from_iter_values(0..len), None)?;
    Ok(make_array(copy_buffers(&taken.to_data())?))
}

fn copy_buffers(data: &ArrayData) -> Result<ArrayData, ArrowError> {
    let buffers = data
        .buffers()
        .iter()
        .map(|b| Buffer::from_slice_ref(b.as_slice()))
        .collect();
    let children = data
        .child_data()
        .iter()
        .map(copy_buffers)
        .collect::<Result<Vec<_>, _>>()?;
    let nulls = data.nulls().map(|n| {
        let bits = Buffer::from_slice_ref(n.buffer().as_slice());
        NullBuffer::new(BooleanBuffer::new(bits, n.offset(), n.len()))
    });
    data.clone()
        .into_builder()
        .buffers(buffers)
        .child_data(children)
        .nulls(nulls)
        .build()
}

fn value_error(e: ArrowError) -> PyErr {
    PyValueError::new_err(e.to_string())
}
