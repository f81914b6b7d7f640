//! Catalog text as people export it: the byte stream of a file in UTF-8 (with or
//! without a BOM), Windows-1251 (1C's «Текст в кодировке Windows») or UTF-16 with
//! a BOM (Excel's «Unicode text»), read as UTF-8 with every line ending (CRLF, CR,
//! LF) turned into LF, so that the CSV reader counts lines right.
//!
//! Detection cannot mistake one for another on real data: a BOM decides; without
//! one, alternating NUL bytes mean UTF-16; otherwise the bytes from the first
//! non-ASCII one on are tried as UTF-8 over a window of up to 1 KiB — Russian text
//! in Windows-1251 is two or more bytes ≥ 0xC0 in a row, never valid UTF-8 — and
//! anything not valid UTF-8 there is Windows-1251. `--encoding` forces one.
//! Bytes that are not text in a decoded encoding are an error naming it and the
//! line; UTF-8 passes through and its reader (CSV, JSON, XML) checks it, naming
//! the line, which the LF line ends keep right.

use std::fmt;
use std::io::{self, Read};

/// A text encoding a catalog file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8, with or without a BOM.
    Utf8,
    /// Windows-1251 (Cyrillic), 1C's and Excel's "ANSI" on Russian Windows.
    Windows1251,
    /// UTF-16, little-endian (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
}

impl TextEncoding {
    /// From a name given on the command line or in a request (`utf-8`, `cp1251`,
    /// `windows-1251`, `utf-16le`, `utf-16be`; `utf-16` is little-endian).
    pub fn from_name(name: &str) -> Option<TextEncoding> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(TextEncoding::Utf8),
            "windows-1251" | "cp1251" | "win1251" | "1251" => Some(TextEncoding::Windows1251),
            "utf-16" | "utf-16le" | "utf16" | "utf16le" | "unicode" => Some(TextEncoding::Utf16Le),
            "utf-16be" | "utf16be" => Some(TextEncoding::Utf16Be),
            _ => None,
        }
    }

    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Windows1251 => "windows-1251",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
        }
    }

    fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Windows1251 => encoding_rs::WINDOWS_1251,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes that are not text in the encoding in force, at a line.
#[derive(Debug)]
pub struct TextError {
    /// The 1-based line where the bad bytes are.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for TextError {}

/// The [`TextError`] inside an I/O error from [`TextReader`], if that is what it is.
pub fn text_error(e: &io::Error) -> Option<&TextError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<TextError>())
}

enum Mode {
    /// No BOM, all ASCII so far: UTF-8 or Windows-1251 is decided at the first
    /// non-ASCII byte.
    Undecided,
    /// UTF-8: bytes pass through, checked.
    Utf8,
    /// Transcoded to UTF-8.
    Decode(encoding_rs::Decoder),
}

/// Reads a catalog file's bytes as UTF-8 text with LF line ends; see the module
/// documentation.
pub struct TextReader<R> {
    inner: R,
    mode: Mode,
    encoding: Option<TextEncoding>,
    forced: bool,
    started: bool,
    raw: Vec<u8>,
    raw_pos: usize,
    eof: bool,
    out: Vec<u8>,
    out_pos: usize,
    /// The last byte given out was a CR turned into LF: an LF right after it is
    /// the same line end.
    after_cr: bool,
    /// Line feeds given out so far.
    lines: u64,
    /// The end was reached and the decoder flushed: reads give 0 from now on (a
    /// finished decoder must not be called again).
    finished: bool,
}

const CHUNK: usize = 64 * 1024;
const WINDOW: usize = 1024;

impl<R: Read> TextReader<R> {
    /// Reads `inner`, in `encoding` when given, else detected.
    pub fn new(inner: R, encoding: Option<TextEncoding>) -> Self {
        TextReader {
            inner,
            mode: Mode::Undecided,
            encoding,
            forced: encoding.is_some(),
            started: false,
            raw: Vec::with_capacity(CHUNK),
            raw_pos: 0,
            eof: false,
            out: Vec::with_capacity(CHUNK * 3),
            out_pos: 0,
            after_cr: false,
            lines: 0,
            finished: false,
        }
    }

    /// The encoding read (or detected so far: `None` while every byte was ASCII,
    /// which reads the same in each).
    pub fn encoding(&self) -> Option<TextEncoding> {
        self.encoding
    }

    /// Reads more raw bytes; false at end of input.
    fn more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.raw_pos > 0 {
            self.raw.drain(..self.raw_pos);
            self.raw_pos = 0;
        }
        let start = self.raw.len();
        self.raw.resize(start + CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.raw.truncate(start);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(start + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    fn bad(&self, reason: String) -> io::Error {
        // The line of the bad bytes: lines given out so far, plus those still
        // waiting in the output buffer are already counted.
        io::Error::new(
            io::ErrorKind::InvalidData,
            TextError {
                line: self.lines + 1,
                reason,
            },
        )
    }

    /// Looks at the first bytes: a BOM, or UTF-16 without one.
    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        while self.raw.len() < 4 && self.more()? {}
        let head = &self.raw[..];
        let bom = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            Some((TextEncoding::Utf8, 3))
        } else if head.starts_with(&[0xFF, 0xFE]) {
            Some((TextEncoding::Utf16Le, 2))
        } else if head.starts_with(&[0xFE, 0xFF]) {
            Some((TextEncoding::Utf16Be, 2))
        } else {
            None
        };
        let detected = match (self.encoding, bom) {
            (Some(forced), Some((found, len))) if forced == found => {
                self.raw_pos = len;
                forced
            }
            (Some(forced), _) => forced,
            (None, Some((found, len))) => {
                self.raw_pos = len;
                found
            }
            (None, None) => {
                // UTF-16 without a BOM: text in UTF-8 or Windows-1251 has no NUL
                // bytes; UTF-16 has one in every ASCII character, on one side.
                let sample = &head[..head.len().min(64) & !1];
                let nul_at = |odd: usize| sample.iter().skip(odd).step_by(2).filter(|&&b| b == 0).count();
                if nul_at(1) > 0 && nul_at(0) == 0 {
                    TextEncoding::Utf16Le
                } else if nul_at(0) > 0 && nul_at(1) == 0 {
                    TextEncoding::Utf16Be
                } else {
                    return Ok(());
                }
            }
        };
        self.set(detected);
        Ok(())
    }

    fn set(&mut self, encoding: TextEncoding) {
        self.encoding = Some(encoding);
        self.mode = match encoding {
            TextEncoding::Utf8 => Mode::Utf8,
            other => Mode::Decode(other.codec().new_decoder_without_bom_handling()),
        };
    }

    /// Decides UTF-8 or Windows-1251 at the first non-ASCII byte, the next one.
    fn decide(&mut self) -> io::Result<()> {
        while self.raw.len() - self.raw_pos < WINDOW && self.more()? {}
        let window = &self.raw[self.raw_pos..];
        let window = &window[..window.len().min(WINDOW)];
        // Valid UTF-8 through the window (a character cut at its end counts), or
        // at least two non-ASCII characters of it before bad bytes (a file that
        // changes encoding midway: read as UTF-8, the bad line is then named).
        let valid = match std::str::from_utf8(window) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or(""),
        };
        let cut_at_end = std::str::from_utf8(window).err().is_some_and(|e| e.error_len().is_none());
        let utf8 = valid.len() == window.len() || (cut_at_end && !valid.is_empty()) || valid.chars().filter(|c| !c.is_ascii()).count() >= 2;
        self.set(if utf8 { TextEncoding::Utf8 } else { TextEncoding::Windows1251 });
        Ok(())
    }

    /// Appends UTF-8 `text` to the output with line ends made LF. Runs of text
    /// without a CR are copied whole (the common case: LF files).
    fn emit(out: &mut Vec<u8>, after_cr: &mut bool, lines: &mut u64, text: &[u8]) {
        let count = |s: &[u8]| memchr::memchr_iter(b'\n', s).count() as u64;
        let mut rest = text;
        if *after_cr && !rest.is_empty() {
            // The LF of a CRLF split between two chunks.
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
            *after_cr = false;
        }
        while let Some(i) = memchr::memchr(b'\r', rest) {
            out.extend_from_slice(&rest[..i]);
            *lines += count(&rest[..i]) + 1;
            out.push(b'\n');
            rest = &rest[i + 1..];
            match rest.first() {
                None => {
                    *after_cr = true;
                    return;
                }
                Some(b'\n') => rest = &rest[1..],
                Some(_) => {}
            }
        }
        out.extend_from_slice(rest);
        *lines += count(rest);
    }

    /// Fills the output buffer; false at the end of the text.
    fn fill(&mut self) -> io::Result<bool> {
        if !self.started {
            self.start()?;
        }
        self.out.clear();
        self.out_pos = 0;
        if self.finished {
            return Ok(false);
        }
        loop {
            if self.raw_pos >= self.raw.len() && !self.more()? {
                self.finished = true;
                return match &mut self.mode {
                    Mode::Decode(d) => {
                        let mut buf = vec![0u8; 16];
                        let (result, _, written) = d.decode_to_utf8_without_replacement(&[], &mut buf, true);
                        if let encoding_rs::DecoderResult::Malformed(_, _) = result {
                            return Err(self.bad(self.malformed()));
                        }
                        Self::emit(&mut self.out, &mut self.after_cr, &mut self.lines, &buf[..written]);
                        Ok(!self.out.is_empty())
                    }
                    _ => Ok(false),
                };
            }
            let input = &self.raw[self.raw_pos..];
            match &mut self.mode {
                Mode::Undecided => {
                    let ascii = input.iter().position(|b| !b.is_ascii()).unwrap_or(input.len());
                    let (text, _) = input.split_at(ascii);
                    Self::emit(&mut self.out, &mut self.after_cr, &mut self.lines, text);
                    self.raw_pos += ascii;
                    if ascii < input.len() {
                        self.decide()?;
                    }
                }
                Mode::Utf8 => {
                    // Passed through: whoever reads the text (the CSV reader, the
                    // JSON and XML parsers) checks it is UTF-8 and names the line.
                    let n = input.len();
                    Self::emit(&mut self.out, &mut self.after_cr, &mut self.lines, input);
                    self.raw_pos += n;
                }
                Mode::Decode(d) => {
                    let mut buf = vec![0u8; input.len() * 3 + 16];
                    let (result, read, written) = d.decode_to_utf8_without_replacement(input, &mut buf, false);
                    let text = &buf[..written];
                    Self::emit(&mut self.out, &mut self.after_cr, &mut self.lines, text);
                    self.raw_pos += read;
                    if let encoding_rs::DecoderResult::Malformed(_, _) = result {
                        return Err(self.bad(self.malformed()));
                    }
                }
            }
            if !self.out.is_empty() {
                return Ok(true);
            }
        }
    }

    fn malformed(&self) -> String {
        let enc = self.encoding.map_or("the file's encoding", TextEncoding::as_str);
        let hint = if self.forced { "" } else { " (name the encoding with --encoding)" };
        format!("bytes that are not {enc} text{hint}")
    }
}

impl<R: Read> Read for TextReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() && !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], forced: Option<TextEncoding>) -> (io::Result<String>, Option<TextEncoding>) {
        let mut r = TextReader::new(bytes, forced);
        let mut s = String::new();
        let res = r.read_to_string(&mut s).map(|_| s);
        (res, r.encoding())
    }

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        v.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        v
    }

    #[test]
    fn every_encoding_and_line_end_reads_as_utf8_with_lf() {
        let text = "Код;Наименование\r\nP1;Молоко «Домик» №1\rP2;Ёлка\n";
        let want = "Код;Наименование\nP1;Молоко «Домик» №1\nP2;Ёлка\n";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        for (bytes, enc) in [
            (text.as_bytes().to_vec(), TextEncoding::Utf8),
            ([&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(), TextEncoding::Utf8),
            (cp1251.to_vec(), TextEncoding::Windows1251),
            (utf16le(text, true), TextEncoding::Utf16Le),
            (utf16le(text, false), TextEncoding::Utf16Le),
        ] {
            let (got, detected) = read(&bytes, None);
            assert_eq!(got.unwrap(), want, "{enc}");
            assert_eq!(detected, Some(enc));
        }
        // A long ASCII head does not decide too early.
        let long = format!("{}\nP9;Сыр\n", "x".repeat(200_000));
        let (cp, _, _) = encoding_rs::WINDOWS_1251.encode(&long);
        assert_eq!(read(&cp, None).0.unwrap(), long);
        assert_eq!(read(long.as_bytes(), None).1, Some(TextEncoding::Utf8));
        // Every Windows-1251 Cyrillic letter, in words, is never taken for UTF-8.
        let letters: String = ('А'..='я').chain(['Ё', 'ё']).collect();
        let (cp, _, _) = encoding_rs::WINDOWS_1251.encode(&letters);
        assert_eq!(read(&cp, None).1, Some(TextEncoding::Windows1251));
    }

    #[test]
    fn bad_bytes_name_the_encoding_and_line() {
        // An unpaired surrogate in UTF-16.
        let mut u = utf16le("a\nb\n", true);
        u.extend([0x00, 0xD8, b'x', 0]);
        let e = read(&u, None).0.unwrap_err();
        let t = text_error(&e).unwrap();
        assert_eq!(t.line, 3);
        assert!(t.reason.contains("utf-16le"), "{t}");
        // Forced: read as told.
        let (cp, _, _) = encoding_rs::WINDOWS_1251.encode("Сыр");
        assert_eq!(read(&cp, Some(TextEncoding::Windows1251)).0.unwrap(), "Сыр");
        assert_eq!(TextEncoding::from_name("CP1251"), Some(TextEncoding::Windows1251));
    }

    /// Found by the catalog_files fuzz target: a read after the end called the
    /// finished decoder again, which panics.
    #[test]
    fn reads_after_the_end_give_nothing() {
        let (cp, _, _) = encoding_rs::WINDOWS_1251.encode("Сыр\n");
        for bytes in [cp.to_vec(), utf16le("a\n", true), b"plain\n".to_vec()] {
            let mut r = TextReader::new(&bytes[..], None);
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(r.read(&mut buf).unwrap(), 0);
            assert_eq!(r.read(&mut buf).unwrap(), 0);
        }
    }

    #[test]
    fn small_reads_and_split_characters() {
        // A reader that gives one byte at a time splits every character.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let text = "Код\r\nЁж «x»\r\n";
        for bytes in [
            text.as_bytes().to_vec(),
            utf16le(text, true),
            encoding_rs::WINDOWS_1251.encode(text).0.to_vec(),
        ] {
            let mut s = String::new();
            TextReader::new(OneByte(&bytes), None).read_to_string(&mut s).unwrap();
            assert_eq!(s, "Код\nЁж «x»\n");
        }
    }
}
