//! Each row's own time for `score_arrow(..., as_of_field=...)`: a column of RFC 3339 text
//! or of timestamps with a timezone, read as `--as-of-field` reads a lead's time (the same
//! messages for a row without one or with one that is not a time).

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMillisecondType;
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};

/// Whether `schema` has a column `field` of times: checked once per call, so a missing or
/// unreadable column is one clear error, not one per row.
pub fn check(schema: &SchemaRef, field: &str) -> Result<(), String> {
    let column = schema
        .field_with_name(field)
        .map_err(|_| format!("as_of_field: the data has no column `{field}` to score each row as of"))?;
    match column.data_type() {
        data_type if text(data_type) => Ok(()),
        DataType::Dictionary(_, values) if text(values) => Ok(()),
        DataType::Timestamp(_, Some(_)) | DataType::Null => Ok(()),
        DataType::Timestamp(_, None) => Err(format!(
            "as_of_field: `{field}` holds timestamps without a timezone, whose instant is unknown; give them one \
             (pyarrow.compute.assume_timezone(array, \"UTC\"))"
        )),
        other => Err(format!(
            "as_of_field: `{field}` must hold RFC 3339 strings or timestamps with a timezone, not {other}"
        )),
    }
}

fn text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// A batch's times, read row by row.
pub struct Times {
    field: String,
    column: Column,
}

enum Column {
    Text(StringArray),
    Millis(PrimitiveArray<TimestampMillisecondType>),
    Missing,
}

impl Times {
    /// The times in `batch`'s column `field` (checked by [`check`]).
    pub fn new(batch: &RecordBatch, field: &str) -> Result<Times, ArrowError> {
        let array = batch
            .column_by_name(field)
            .ok_or_else(|| ArrowError::SchemaError(format!("no column `{field}`")))?;
        let column = match array.data_type() {
            DataType::Null => Column::Missing,
            DataType::Timestamp(_, tz) => {
                let millis = arrow_cast::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?;
                Column::Millis(millis.as_primitive::<TimestampMillisecondType>().clone())
            }
            _ => Column::Text(arrow_cast::cast(array, &DataType::Utf8)?.as_string::<i32>().clone()),
        };
        Ok(Times {
            field: field.to_string(),
            column,
        })
    }

    /// Row `row`'s time, or why it has none.
    pub fn at(&self, row: usize) -> Result<DateTime<Utc>, String> {
        let field = &self.field;
        let missing = || format!("the lead has no `{field}` to judge it as of");
        match &self.column {
            Column::Missing => Err(missing()),
            Column::Text(text) if text.is_null(row) => Err(missing()),
            Column::Text(text) => {
                let value = text.value(row);
                leadscore::parse_time(value).ok_or_else(|| format!("`{field}` is {value:?}, not an RFC 3339 time"))
            }
            Column::Millis(millis) if millis.is_null(row) => Err(missing()),
            Column::Millis(millis) => DateTime::from_timestamp_millis(millis.value(row))
                .ok_or_else(|| format!("`{field}` is out of the range of times")),
        }
    }
}
