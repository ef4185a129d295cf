//! Text that goes into the page: HTML escaping of everything that comes from
//! data, shortening of long strings, and the time formats.
//!
//! Every string that comes from a run (keys, values, fault descriptions, the
//! verdict, the rerun command) reaches the page only through [`Escaped`], so
//! a key such as `<script>` is shown and never executed.

use std::borrow::Cow;
use std::fmt;

/// Nanoseconds in a second, for the time formats.
const NANOSECONDS_PER_SECOND: f64 = 1e9;

/// Nanoseconds in a millisecond, for recovery times.
const NANOSECONDS_PER_MILLISECOND: f64 = 1e6;

/// A string written with the five characters that HTML treats specially
/// replaced by character references. The same form is safe between tags and
/// inside a double- or single-quoted attribute value, so one wrapper serves
/// both and no call site has to know which context it writes into.
pub(super) struct Escaped<'text>(pub &'text str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(position) = rest.find(['&', '<', '>', '"', '\'']) {
            formatter.write_str(&rest[..position])?;
            let reference = match rest.as_bytes()[position] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                other => unreachable!("find stopped at {other}, which it was not asked for"),
            };
            formatter.write_str(reference)?;
            // Every special character is one byte, so this stays on a
            // character boundary.
            rest = &rest[position + 1..];
        }
        formatter.write_str(rest)
    }
}

/// The first `characters_max` characters of `text`, followed by an ellipsis
/// when anything was cut. Keys and values may be arbitrarily long; a tooltip
/// or a label that repeated them whole could make the page unboundedly large.
pub(super) fn shorten(text: &str, characters_max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(characters_max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

/// A time in nanoseconds since the run began, written in seconds with
/// millisecond precision, the resolution a person reads a timeline at.
pub(super) struct Seconds(pub u64);

impl fmt::Display for Seconds {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:.3}", self.0 as f64 / NANOSECONDS_PER_SECOND)
    }
}

/// A duration in nanoseconds written in milliseconds with one decimal, the
/// unit recovery times are compared in.
pub(super) struct Milliseconds(pub u64);

impl fmt::Display for Milliseconds {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:.1}",
            self.0 as f64 / NANOSECONDS_PER_MILLISECOND
        )
    }
}

/// A node id, or `none`: the spelling of an optional node in the
/// `data-leader` hook.
pub(super) struct NodeOrNone(pub Option<u64>);

impl fmt::Display for NodeOrNone {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(node) => write!(formatter, "{node}"),
            None => formatter.write_str("none"),
        }
    }
}

/// A time in nanoseconds, or `none`: the spelling of an optional time in the
/// `data-end` and `data-recovery` hooks.
pub(super) struct TimeOrNone(pub Option<u64>);

impl fmt::Display for TimeOrNone {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(time) => write!(formatter, "{time}"),
            None => formatter.write_str("none"),
        }
    }
}

/// The person-readable name of a leader: "leader N" or "no leader".
pub(super) struct LeaderName(pub Option<u64>);

impl fmt::Display for LeaderName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(node) => write!(formatter, "leader {node}"),
            None => formatter.write_str("no leader"),
        }
    }
}

/// A list of node ids separated by spaces, as in `data-nodes="1 3"`.
pub(super) struct NodeList<'nodes>(pub &'nodes [u64]);

impl fmt::Display for NodeList<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, node) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str(" ")?;
            }
            write!(formatter, "{node}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_replaces_every_special_character_and_keeps_the_rest() {
        let escaped = Escaped(r#"<script>alert('x' && "y")</script> ünïcode"#).to_string();
        assert_eq!(
            escaped,
            "&lt;script&gt;alert(&#39;x&#39; &amp;&amp; &quot;y&quot;)&lt;/script&gt; ünïcode"
        );
    }

    #[test]
    fn shortening_cuts_on_characters_not_bytes() {
        assert_eq!(shorten("ééééé", 3), "ééé…");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn times_are_written_in_their_units() {
        assert_eq!(Seconds(1_234_567_890).to_string(), "1.235");
        assert_eq!(Milliseconds(1_260_000).to_string(), "1.3");
        assert_eq!(NodeOrNone(None).to_string(), "none");
        assert_eq!(LeaderName(Some(2)).to_string(), "leader 2");
        assert_eq!(NodeList(&[1, 3]).to_string(), "1 3");
    }
}
