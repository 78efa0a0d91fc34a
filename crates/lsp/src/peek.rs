//! What coalescing needs to know of a frame, found without parsing it: whether it is a
//! `didChange`, of which document, and whether one of its changes replaces the whole text.
//! A document's text is most of the frame (megabytes for a large file), so its strings are
//! skipped with `memchr` to the next quote or backslash rather than decoded; the few
//! values read (the method, the URI) are taken only when they hold no escape. Anything
//! unexpected gives `None`: the frame is then parsed as usual and never dropped.

/// A `didChange` frame's document and whether one of its changes is a whole text.
#[derive(Debug, PartialEq)]
pub struct Change {
    pub uri: String,
    pub whole: bool,
}

/// How deep objects and arrays may nest before the peek gives up.
const MAX_DEPTH: usize = 64;

/// The change a frame's body holds, if it is a `didChange` notification read plainly.
pub fn change_of(body: &[u8]) -> Option<Change> {
    let mut p = Peek { b: body, i: 0 };
    let (mut method, mut found) = (None, None);
    p.object(|p, key| {
        match key {
            b"method" => method = Some(p.plain_string()?),
            b"params" => found = Some(p.params()?),
            _ => p.skip(0)?,
        }
        Some(())
    })?;
    p.ws();
    let done = p.i == p.b.len();
    (done && method? == "textDocument/didChange").then_some(())?;
    found
}

struct Peek<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Peek<'a> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// The members of an object, each handed to `member` with the parser at its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let key = self.raw_string()?;
            self.eat(b':')?;
            member(self, key)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    /// `params`: the document's URI and whether a change has no `range`.
    fn params(&mut self) -> Option<Change> {
        let (mut uri, mut whole) = (None, false);
        self.object(|p, key| {
            match key {
                b"textDocument" => p.object(|p, key| match key {
                    b"uri" => p.plain_string().map(|u| uri = Some(u)),
                    _ => p.skip(1),
                })?,
                b"contentChanges" => {
                    p.eat(b'[')?;
                    if p.eat(b']').is_none() {
                        loop {
                            let mut ranged = false;
                            p.object(|p, key| {
                                p.ws();
                                ranged |= key == b"range" && p.b.get(p.i) != Some(&b'n');
                                p.skip(2)
                            })?;
                            whole |= !ranged;
                            if p.eat(b',').is_none() {
                                p.eat(b']')?;
                                break;
                            }
                        }
                    }
                }
                _ => p.skip(1)?,
            }
            Some(())
        })?;
        Some(Change { uri: uri?, whole })
    }

    /// A string's raw bytes between its quotes (escapes left as written), skipped to the
    /// closing quote with `memchr`.
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            let at = self.i + memchr::memchr2(b'"', b'\\', &self.b[self.i..])?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some(&self.b[start..at]);
            }
            self.i = at + 2; // a backslash and the character it escapes
            if self.i > self.b.len() {
                return None;
            }
        }
    }

    /// A string without escapes, as text.
    fn plain_string(&mut self) -> Option<String> {
        let raw = self.raw_string()?;
        if raw.contains(&b'\\') {
            return None;
        }
        std::str::from_utf8(raw).ok().map(str::to_string)
    }

    /// Skips one value of any kind.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.b.get(self.i)? {
            b'"' => self.raw_string().map(|_| ()),
            b'{' => self.object(|p, _| p.skip(depth + 1)),
            b'[' => {
                self.eat(b'[')?;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if self.eat(b',').is_none() {
                        return self.eat(b']');
                    }
                }
            }
            _ => {
                // A number, `true`, `false` or `null`: up to the next delimiter.
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn peek(value: &serde_json::Value) -> Option<Change> {
        change_of(value.to_string().as_bytes())
    }

    #[test]
    fn a_change_is_read_in_any_key_order_and_other_frames_are_not() {
        let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}});
        let whole = json!({"jsonrpc": "2.0", "params": {"contentChanges": [{"text": "a \"quoted\" \\ text"}], "textDocument": {"version": 3, "uri": "file:///p/a.rules"}}, "method": "textDocument/didChange"});
        assert_eq!(
            peek(&whole),
            Some(Change {
                uri: "file:///p/a.rules".into(),
                whole: true
            })
        );
        let ranged = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": "file:///p/a.rules", "version": 4}, "contentChanges": [{"range": range, "rangeLength": 1, "text": "x"}, {"range": null, "text": "y"}]}});
        assert_eq!(
            peek(&ranged).map(|c| c.whole),
            Some(true),
            "a null range is a whole text"
        );
        let only_ranged = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": "u"}, "contentChanges": [{"range": range, "text": "x"}]}});
        assert_eq!(peek(&only_ranged).map(|c| c.whole), Some(false));
        let hover = json!({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {"textDocument": {"uri": "u"}, "position": {"line": 0, "character": 0}}});
        assert_eq!(peek(&hover), None);
        assert_eq!(
            change_of(b"{\"method\": \"textDocument/didChange\", \"params\": {"),
            None
        );
        assert_eq!(change_of(br#"{"method": "textDocument\/didChange", "params": {"textDocument": {"uri": "u"}, "contentChanges": []}}"#), None, "an escape in the method: parsed as usual");
        assert_eq!(change_of(&[b'['; 100_000]), None);
    }
}
