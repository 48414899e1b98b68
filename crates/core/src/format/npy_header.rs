//! The `.npy` header: parsing what numpy writes (versions 1.0, 2.0, 3.0) and
//! writing what numpy reads.
//!
//! Layout (numpy's `numpy/lib/format.py`): the magic `\x93NUMPY`, two version
//! bytes, the header length (u16 little-endian in 1.0, u32 in 2.0 and 3.0), then
//! the header: a Python literal dict `{'descr': '<f4', 'fortran_order': False,
//! 'shape': (4, 3), }` padded with spaces and ending in `\n`. Version 3.0 differs
//! from 2.0 only in that the header is UTF-8 rather than Latin-1. The data
//! follows the header immediately; numpy aligns its start to 64 bytes (16 in old
//! releases), but nothing guarantees it, so readers must not assume alignment.
//!
//! The dict is parsed by a small literal parser rather than by matching text:
//! keys may come in any order, with any spacing, single or double quotes, a
//! trailing comma or none, Python-2 `3L` integers, and tuples `()`, `(3,)`,
//! `(4, 3)`. Like numpy, exactly the three keys are accepted.

use super::FormatProblem;

/// The magic string that starts every `.npy` file.
pub(crate) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The largest header accepted: 64 KiB. numpy's own headers are under 200
/// bytes for plain arrays (its `np.load` refuses over 10 000 by default); a
/// larger length field means a corrupt file or a structured dtype with
/// thousands of fields, neither of which is a matrix.
pub(crate) const MAX_HEADER_LEN: usize = 64 * 1024;

/// Header start alignment numpy uses (and our writer uses).
pub(crate) const ALIGN: usize = 64;

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    pub(crate) version: (u8, u8),
    /// Offset of the first data byte in the file.
    pub(crate) data_offset: usize,
    /// The `descr` value: the dtype string, or the literal text of a
    /// structured dtype's list (only for the error message).
    pub(crate) descr: String,
    /// True when `descr` was a string (a plain dtype).
    pub(crate) descr_is_str: bool,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<usize>,
}

/// The element types the readers understand, before a reader decides whether
/// it accepts one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F2,
    F4,
    F8,
    U1,
    I1,
    I4,
    I8,
}

impl Elem {
    pub(crate) fn size(self) -> usize {
        match self {
            Elem::U1 | Elem::I1 => 1,
            Elem::F2 => 2,
            Elem::F4 | Elem::I4 => 4,
            Elem::F8 | Elem::I8 => 8,
        }
    }
}

/// Classifies a dtype string: a known little-endian type, or why not.
pub(crate) fn classify_descr(header: &NpyHeader) -> Result<Elem, FormatProblem> {
    let unsupported = || FormatProblem::UnsupportedDtype {
        descr: header.descr.clone(),
    };
    if !header.descr_is_str {
        return Err(unsupported());
    }
    let d = header.descr.as_str();
    let mut chars = d.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let kind = chars.as_str();
    let elem = match kind {
        "f2" => Elem::F2,
        "f4" => Elem::F4,
        "f8" => Elem::F8,
        "u1" => Elem::U1,
        "i1" => Elem::I1,
        "i4" => Elem::I4,
        "i8" => Elem::I8,
        _ => return Err(unsupported()),
    };
    let little = match order {
        '<' => true,
        '>' => false,
        '=' => cfg!(target_endian = "little"),
        '|' if elem.size() == 1 => true,
        _ => return Err(unsupported()),
    };
    if !little && elem.size() > 1 {
        return Err(FormatProblem::BigEndian {
            descr: header.descr.clone(),
        });
    }
    Ok(elem)
}

/// A shape as Python prints it: `()`, `(12,)`, `(4, 3)`.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(ToString::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// Checks that the file length is exactly what `header` promises for
/// `elements` items of `item_size` bytes each, with overflow-checked
/// arithmetic. Done before any data page is read.
pub(crate) fn check_data_len(
    header: &NpyHeader,
    item_size: usize,
    file_len: usize,
) -> Result<(), FormatProblem> {
    let expected = header
        .shape
        .iter()
        .try_fold(item_size, |acc, &dim| acc.checked_mul(dim))
        .and_then(|bytes| bytes.checked_add(header.data_offset))
        .ok_or_else(|| FormatProblem::MalformedHeader {
            detail: format!(
                "shape {} describes more bytes than any file can hold",
                shape_text(&header.shape)
            ),
        })?;
    let (expected, actual) = (expected as u64, file_len as u64);
    match actual.cmp(&expected) {
        std::cmp::Ordering::Less => Err(FormatProblem::Truncated { expected, actual }),
        std::cmp::Ordering::Greater => Err(FormatProblem::TrailingBytes {
            expected,
            actual,
            extra: actual - expected,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

fn truncated(detail: impl Into<String>) -> FormatProblem {
    FormatProblem::TruncatedHeader {
        detail: detail.into(),
    }
}

fn malformed(detail: impl Into<String>) -> FormatProblem {
    FormatProblem::MalformedHeader {
        detail: detail.into(),
    }
}

/// Parses the header at the start of `bytes` (the whole file, or at least its
/// header). Reads nothing past the header.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<NpyHeader, FormatProblem> {
    let magic_len = MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(FormatProblem::BadMagic);
    }
    if bytes.len() < 8 {
        return Err(truncated(format!(
            "the file is {} bytes, too short for the magic and version",
            bytes.len()
        )));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(FormatProblem::UnsupportedVersion { major, minor }),
    };
    let start = 8 + len_size;
    if bytes.len() < start {
        return Err(truncated("the file ends inside the header length field"));
    }
    let header_len = if len_size == 2 {
        usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))
    } else {
        let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        usize::try_from(len).unwrap_or(usize::MAX)
    };
    if header_len > MAX_HEADER_LEN {
        return Err(FormatProblem::HeaderTooLarge {
            len: header_len,
            limit: MAX_HEADER_LEN,
        });
    }
    let end = start + header_len;
    if bytes.len() < end {
        return Err(truncated(format!(
            "the header declares {header_len} bytes but only {} follow its length field",
            bytes.len() - start
        )));
    }
    let raw = &bytes[start..end];
    let text: String = if major == 3 {
        std::str::from_utf8(raw)
            .map_err(|e| malformed(format!("version 3.0 header is not valid UTF-8 ({e})")))?
            .to_string()
    } else {
        // Versions 1.0 and 2.0 are Latin-1: every byte is the code point.
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let mut header = dict_to_header(&text)?;
    header.version = (major, minor);
    header.data_offset = end;
    Ok(header)
}

fn dict_to_header(text: &str) -> Result<NpyHeader, FormatProblem> {
    let mut parser = LiteralParser::new(text);
    let dict = parser.value().map_err(malformed)?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(malformed(format!(
            "unexpected text after the dict: {:?}",
            parser.rest()
        )));
    }
    let Literal::Dict(entries) = dict.value else {
        return Err(malformed(format!(
            "the header is not a dict: {:?}",
            dict.text
        )));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in entries {
        let Literal::Str(key) = key.value else {
            return Err(malformed(format!("dict key {} is not a string", key.text)));
        };
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => {
                return Err(malformed(format!(
                    "unexpected key '{key}'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'"
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(malformed(format!("key '{key}' appears twice")));
        }
    }
    let missing = |k: &str| malformed(format!("key '{k}' is missing"));
    let descr = descr.ok_or_else(|| missing("descr"))?;
    let fortran = fortran.ok_or_else(|| missing("fortran_order"))?;
    let shape = shape.ok_or_else(|| missing("shape"))?;

    let (descr, descr_is_str) = match descr.value {
        Literal::Str(s) => (s, true),
        _ => (descr.text, false),
    };
    let Literal::Bool(fortran_order) = fortran.value else {
        return Err(malformed(format!(
            "'fortran_order' must be True or False, not {}",
            fortran.text
        )));
    };
    let Literal::Tuple(dims) = shape.value else {
        return Err(malformed(format!(
            "'shape' must be a tuple of integers, not {}",
            shape.text
        )));
    };
    let shape = dims
        .into_iter()
        .map(|d| match d.value {
            Literal::Int(n) => usize::try_from(n).map_err(|_| {
                malformed(format!(
                    "dimension {n} in 'shape' is larger than this machine can address"
                ))
            }),
            _ => Err(malformed(format!(
                "'shape' holds {}, not a non-negative integer",
                d.text
            ))),
        })
        .collect::<Result<Vec<usize>, _>>()?;
    Ok(NpyHeader {
        version: (0, 0),
        data_offset: 0,
        descr,
        descr_is_str,
        fortran_order,
        shape,
    })
}

/// A Python literal, as much of the grammar as `.npy` headers use.
#[derive(Debug)]
enum Literal {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Tuple(Vec<Spanned>),
    /// A list (structured dtypes); only its text matters.
    List,
    Dict(Vec<(Spanned, Spanned)>),
}

/// A literal and the source text it came from (for messages).
#[derive(Debug)]
struct Spanned {
    value: Literal,
    text: String,
}

struct LiteralParser {
    chars: Vec<char>,
    pos: usize,
}

/// Nesting depth limit, so a hostile header cannot overflow the stack.
const MAX_DEPTH: usize = 32;

impl LiteralParser {
    fn new(src: &str) -> Self {
        LiteralParser {
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn rest(&self) -> String {
        self.chars[self.pos..].iter().take(40).collect()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(found) if found == c => {
                self.pos += 1;
                Ok(())
            }
            Some(found) => Err(format!(
                "expected '{c}' at character {}, found '{found}'",
                self.pos
            )),
            None => Err(format!("expected '{c}', found the end of the header")),
        }
    }

    fn value(&mut self) -> Result<Spanned, String> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<Spanned, String> {
        if depth > MAX_DEPTH {
            return Err("literal nested too deeply".to_string());
        }
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek() {
            None => return Err("unexpected end of the header".to_string()),
            Some('{') => self.dict(depth)?,
            Some('(') => self.sequence('(', ')', depth)?,
            Some('[') => self.sequence('[', ']', depth)?,
            Some(q @ ('\'' | '"')) => self.string(q)?,
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.int()?,
            Some(c) if c.is_alphabetic() || c == '_' => self.word()?,
            Some(c) => return Err(format!("unexpected '{c}' at character {}", self.pos)),
        };
        let text = self.chars[start..self.pos].iter().collect();
        Ok(Spanned { value, text })
    }

    fn dict(&mut self, depth: usize) -> Result<Literal, String> {
        self.expect('{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.value_at(depth + 1)?;
            self.expect(':')?;
            let value = self.value_at(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                Some(c) => return Err(format!("expected ',' or '}}' in the dict, found '{c}'")),
                None => return Err("the dict is not closed".to_string()),
            }
        }
    }

    /// A tuple or list. `(x)` without a comma is a parenthesised value, as in
    /// Python.
    fn sequence(&mut self, open: char, close: char, depth: usize) -> Result<Literal, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.value_at(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    saw_comma = true;
                    self.pos += 1;
                }
                Some(c) if c == close => {}
                Some(c) => {
                    return Err(format!("expected ',' or '{close}', found '{c}'"));
                }
                None => return Err(format!("'{open}' is not closed")),
            }
        }
        if open == '[' {
            return Ok(Literal::List);
        }
        if items.len() == 1 && !saw_comma {
            return Ok(items.pop().map_or(Literal::None, |s| s.value));
        }
        Ok(Literal::Tuple(items))
    }

    fn string(&mut self, quote: char) -> Result<Literal, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("a string is not closed".to_string()),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(Literal::Str(out));
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or("a string is not closed")?;
                    out.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn int(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos]
            .iter()
            .filter(|&&c| c != '_')
            .collect();
        // Python 2 wrote longs as `3L`; numpy still reads such headers.
        if matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1;
        }
        if digits.starts_with('-') {
            return Err(format!("negative dimension {digits}"));
        }
        digits
            .trim_start_matches('+')
            .parse::<u64>()
            .map(Literal::Int)
            .map_err(|_| format!("'{digits}' is not an integer that fits in 64 bits"))
    }

    fn word(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Ok(Literal::Bool(true)),
            "False" => Ok(Literal::Bool(false)),
            "None" => Ok(Literal::None),
            _ => Err(format!("unexpected name '{word}'")),
        }
    }
}

/// The header numpy would write for a little-endian, C-order array, padded
/// with spaces to exactly `total_len` bytes (magic to newline inclusive).
///
/// Returns `None` when the dict does not fit in `total_len`, or when the
/// header would need version 2.0 (over 65 535 bytes, impossible for the plain
/// dtypes and shapes mmclust writes).
pub(crate) fn write_header(descr: &str, shape: &[u64], total_len: usize) -> Option<Vec<u8>> {
    let dict = header_dict(descr, shape);
    let header_len = total_len.checked_sub(MAGIC.len() + 2 + 2)?;
    if dict.len() + 1 > header_len || header_len > usize::from(u16::MAX) {
        return None;
    }
    let mut out = Vec::with_capacity(total_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&u16::try_from(header_len).ok()?.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total_len - 1, b' ');
    out.push(b'\n');
    Some(out)
}

/// The smallest multiple of [`ALIGN`] that holds the header for `shape`.
pub(crate) fn header_total_len(descr: &str, shape: &[u64]) -> usize {
    // magic + version + u16 length + dict + '\n'
    let dict_len = header_dict(descr, shape).len();
    (MAGIC.len() + 2 + 2 + dict_len + 1).div_ceil(ALIGN) * ALIGN
}

/// The header's dict as numpy writes it for a little-endian, C-order array.
fn header_dict(descr: &str, shape: &[u64]) -> String {
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
        .collect();
    format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_text(&dims)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: (u8, u8), dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[version.0, version.1]);
        if version.0 == 1 {
            v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(dict.as_bytes());
        v
    }

    fn parse(dict: &str) -> Result<NpyHeader, FormatProblem> {
        parse_header(&file((1, 0), dict))
    }

    #[test]
    fn parses_numpy_style_header() {
        let h = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }          \n")
            .unwrap();
        assert_eq!(h.descr, "<f4");
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![4, 3]);
        assert_eq!(h.version, (1, 0));
        assert_eq!(h.data_offset, 10 + 70);
    }

    #[test]
    fn parses_any_key_order_spacing_quotes_and_tuple_forms() {
        let h = parse("{\"shape\":(12,),\"fortran_order\":True,'descr':\"|u1\"}").unwrap();
        assert_eq!(h.shape, vec![12]);
        assert!(h.fortran_order);
        assert_eq!(h.descr, "|u1");
        let h =
            parse("{ 'descr' : '<f8' ,\n 'fortran_order' : False , 'shape' : ( ) , }\n").unwrap();
        assert!(h.shape.is_empty());
        let h = parse("{'descr': '<i4', 'fortran_order': False, 'shape': (3L, 2L), }").unwrap();
        assert_eq!(h.shape, vec![3, 2]);
        let h = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4)}").unwrap();
        assert_eq!(h.shape, vec![2, 3, 4]);
    }

    #[test]
    fn version_2_and_3_use_four_byte_length_and_utf8() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }\n";
        let h = parse_header(&file((2, 0), dict)).unwrap();
        assert_eq!(h.version, (2, 0));
        assert_eq!(h.data_offset, 12 + dict.len());
        let h = parse_header(&file(
            (3, 0),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x\u{e9}': 1}\n",
        ));
        assert!(
            matches!(h, Err(FormatProblem::MalformedHeader { ref detail }) if detail.contains("x\u{e9}")),
            "{h:?}"
        );
        let mut bad = file(
            (3, 0),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        );
        bad[20] = 0xff;
        assert!(matches!(
            parse_header(&bad),
            Err(FormatProblem::MalformedHeader { .. })
        ));
    }

    #[test]
    fn rejects_malformed_headers() {
        for dict in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), 'extra': 1}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (4, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [4, 3]}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-4, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3)",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3)} junk",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4, 3)}",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3)}",
            "",
            "[1, 2]",
            &format!("{}1{}", "(".repeat(100), ")".repeat(100)),
        ] {
            let r = parse(dict);
            assert!(
                matches!(r, Err(FormatProblem::MalformedHeader { .. })),
                "{dict}: {r:?}"
            );
        }
    }

    #[test]
    fn magic_version_and_length_errors() {
        assert_eq!(parse_header(b"hello world"), Err(FormatProblem::BadMagic));
        assert!(matches!(
            parse_header(b"\x93NUM"),
            Err(FormatProblem::TruncatedHeader { .. })
        ));
        assert!(matches!(
            parse_header(b"\x93NUMPY\x01"),
            Err(FormatProblem::TruncatedHeader { .. })
        ));
        assert!(matches!(
            parse_header(b"\x93NUMPY\x02\x00\x10\x00"),
            Err(FormatProblem::TruncatedHeader { .. })
        ));
        assert_eq!(
            parse_header(b"\x93NUMPY\x04\x00\x10\x00"),
            Err(FormatProblem::UnsupportedVersion { major: 4, minor: 0 })
        );
        assert!(matches!(
            parse_header(b"\x93NUMPY\x01\x00\x40\x00{'descr'"),
            Err(FormatProblem::TruncatedHeader { .. })
        ));
        assert_eq!(
            parse_header(b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}"),
            Err(FormatProblem::HeaderTooLarge {
                len: u32::MAX as usize,
                limit: MAX_HEADER_LEN
            })
        );
    }

    #[test]
    fn classifies_dtypes() {
        let h = |descr: &str| NpyHeader {
            version: (1, 0),
            data_offset: 0,
            descr: descr.to_string(),
            descr_is_str: true,
            fortran_order: false,
            shape: vec![],
        };
        assert_eq!(classify_descr(&h("<f2")), Ok(Elem::F2));
        assert_eq!(classify_descr(&h("<f4")), Ok(Elem::F4));
        assert_eq!(classify_descr(&h("<f8")), Ok(Elem::F8));
        assert_eq!(classify_descr(&h("|u1")), Ok(Elem::U1));
        assert_eq!(classify_descr(&h("<u1")), Ok(Elem::U1));
        assert_eq!(classify_descr(&h("|i1")), Ok(Elem::I1));
        assert_eq!(classify_descr(&h("<i1")), Ok(Elem::I1));
        assert_eq!(classify_descr(&h("<i4")), Ok(Elem::I4));
        assert_eq!(classify_descr(&h("<i8")), Ok(Elem::I8));
        for d in [">f4", ">f2"] {
            assert!(
                matches!(classify_descr(&h(d)), Err(FormatProblem::BigEndian { .. })),
                "{d}"
            );
        }
        for d in ["<u2", "<e", "|f2", "<c8", "|O", "", "f4", "|f4", "<U10"] {
            assert!(
                matches!(
                    classify_descr(&h(d)),
                    Err(FormatProblem::UnsupportedDtype { .. })
                ),
                "{d}"
            );
        }
        let mut structured = h("[('a', '<f4')]");
        structured.descr_is_str = false;
        assert!(matches!(
            classify_descr(&structured),
            Err(FormatProblem::UnsupportedDtype { .. })
        ));
    }

    #[test]
    fn data_length_is_checked_with_overflow_checks() {
        let mut h = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }").unwrap();
        let end = h.data_offset + 48;
        assert_eq!(check_data_len(&h, 4, end), Ok(()));
        assert!(matches!(
            check_data_len(&h, 4, end - 1),
            Err(FormatProblem::Truncated { .. })
        ));
        assert!(matches!(
            check_data_len(&h, 4, end + 3),
            Err(FormatProblem::TrailingBytes { extra: 3, .. })
        ));
        h.shape = vec![1 << 40, 1 << 40];
        assert!(matches!(
            check_data_len(&h, 4, end),
            Err(FormatProblem::MalformedHeader { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_written_header_parses_back(
            rows in proptest::num::u64::ANY,
            cols in proptest::option::of(1u64..=u64::MAX),
            descr in proptest::sample::select(vec!["<f4", "<f8", "|u1", "<i4"]),
        ) {
            let shape: Vec<u64> = std::iter::once(rows).chain(cols).collect();
            let reserved: Vec<u64> = std::iter::once(u64::MAX).chain(cols).collect();
            let total = header_total_len(descr, &reserved);
            let bytes = write_header(descr, &shape, total).unwrap();
            proptest::prop_assert_eq!(bytes.len() % ALIGN, 0);
            let h = parse_header(&bytes).unwrap();
            let expect: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            proptest::prop_assert_eq!(h.shape, expect);
            proptest::prop_assert_eq!(h.descr, descr);
            proptest::prop_assert_eq!(h.data_offset, total);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = parse_header(&bytes);
            let _ = parse_header(&with_magic);
        }
    }

    #[test]
    fn written_header_is_aligned_and_parses_back() {
        let total = header_total_len("<f4", &[u64::MAX, 3]);
        assert_eq!(total % ALIGN, 0);
        let bytes = write_header("<f4", &[5, 3], total).unwrap();
        assert_eq!(bytes.len(), total);
        assert_eq!(*bytes.last().unwrap(), b'\n');
        let h = parse_header(&bytes).unwrap();
        assert_eq!((h.shape, h.data_offset), (vec![5, 3], total));
        // numpy's own v1.0 headers for 2-D arrays are 128 bytes too.
        assert_eq!(header_total_len("<f4", &[5, 3]), 128);
        assert!(write_header("<f4", &[5, 3], 32).is_none());
        let v = write_header("<i4", &[7], 128).unwrap();
        assert_eq!(parse_header(&v).unwrap().shape, vec![7]);
    }
}
