//! Writing histories, for recorders (the simulator, the chaos suite, the
//! benchmark): one JSON object per line, fields in the specification's order.

use std::io::{self, Write};

use crate::operation::Operation;

/// One history line for `operation`, without the trailing newline.
///
/// Fields come in the specification's order (`client`, `op`, `key`, `value`,
/// `found`, `status`, `call`, `return`, then `node` only when known).
pub fn to_json_line(operation: &Operation) -> String {
    // Serialising a struct of integers, strings, booleans and unit enums into
    // memory has no failure mode; an error here would be a serde bug.
    serde_json::to_string(operation).expect("an Operation always serialises")
}

/// Writes operations to `W` as JSON Lines, one operation per line.
///
/// The writer does not buffer: wrap a file in a `std::io::BufWriter`.
#[derive(Debug)]
pub struct HistoryWriter<W: Write> {
    writer: W,
    operations_written: u64,
}

impl<W: Write> HistoryWriter<W> {
    /// A writer that appends lines to `writer`.
    pub fn new(writer: W) -> Self {
        HistoryWriter {
            writer,
            operations_written: 0,
        }
    }

    /// Appends one line for `operation`.
    pub fn record(&mut self, operation: &Operation) -> io::Result<()> {
        let mut line = to_json_line(operation);
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        self.operations_written += 1;
        Ok(())
    }

    /// How many operations were recorded so far.
    pub fn operations_written(&self) -> u64 {
        self.operations_written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and gives back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.writer.flush()?;
        Ok(self.writer)
    }
}
