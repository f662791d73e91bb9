// Observation helpers for Rust, placed inside the observation module appended to the
// candidate's file (`use super::*;` precedes them; local names shadow the candidate's).
// `obs(key, || value)` prints one JSON line; a panic is recorded as an error.

pub trait LlmbenchJson {
    fn llmbench_json(&self) -> String;
}

pub fn llmbench_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

macro_rules! llmbench_int {
    ($($t:ty),*) => { $(impl LlmbenchJson for $t {
        fn llmbench_json(&self) -> String { self.to_string() }
    })* };
}
llmbench_int!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

macro_rules! llmbench_float {
    ($($t:ty),*) => { $(impl LlmbenchJson for $t {
        fn llmbench_json(&self) -> String {
            if self.is_finite() { format!("{:?}", self) } else { format!("{{\"$float\":\"{}\"}}", self) }
        }
    })* };
}
llmbench_float!(f32, f64);

impl LlmbenchJson for bool {
    fn llmbench_json(&self) -> String { self.to_string() }
}
impl LlmbenchJson for str {
    fn llmbench_json(&self) -> String { llmbench_str(self) }
}
impl LlmbenchJson for String {
    fn llmbench_json(&self) -> String { llmbench_str(self) }
}
impl LlmbenchJson for char {
    fn llmbench_json(&self) -> String { llmbench_str(&self.to_string()) }
}
impl LlmbenchJson for () {
    fn llmbench_json(&self) -> String { "null".to_string() }
}
impl<T: LlmbenchJson + ?Sized> LlmbenchJson for &T {
    fn llmbench_json(&self) -> String { (**self).llmbench_json() }
}
impl<T: LlmbenchJson + ?Sized> LlmbenchJson for Box<T> {
    fn llmbench_json(&self) -> String { (**self).llmbench_json() }
}
impl<T: LlmbenchJson> LlmbenchJson for [T] {
    fn llmbench_json(&self) -> String {
        format!("[{}]", self.iter().map(|x| x.llmbench_json()).collect::<Vec<_>>().join(","))
    }
}
impl<T: LlmbenchJson, const N: usize> LlmbenchJson for [T; N] {
    fn llmbench_json(&self) -> String { self[..].llmbench_json() }
}
impl<T: LlmbenchJson> LlmbenchJson for Vec<T> {
    fn llmbench_json(&self) -> String { self[..].llmbench_json() }
}
impl<T: LlmbenchJson> LlmbenchJson for std::collections::VecDeque<T> {
    fn llmbench_json(&self) -> String { self.iter().collect::<Vec<_>>().llmbench_json() }
}
impl<T: LlmbenchJson> LlmbenchJson for Option<T> {
    fn llmbench_json(&self) -> String {
        match self { Some(v) => v.llmbench_json(), None => "null".to_string() }
    }
}
impl<T: LlmbenchJson, E: std::fmt::Debug> LlmbenchJson for Result<T, E> {
    fn llmbench_json(&self) -> String {
        match self {
            Ok(v) => format!("{{\"ok\":{}}}", v.llmbench_json()),
            Err(e) => format!("{{\"err\":{}}}", llmbench_str(&format!("{:?}", e))),
        }
    }
}
impl<K: std::fmt::Display, V: LlmbenchJson, S> LlmbenchJson for std::collections::HashMap<K, V, S> {
    fn llmbench_json(&self) -> String {
        let mut items: Vec<(String, String)> =
            self.iter().map(|(k, v)| (k.to_string(), v.llmbench_json())).collect();
        items.sort();
        let body: Vec<String> = items.iter().map(|(k, v)| format!("{}:{}", llmbench_str(k), v)).collect();
        format!("{{{}}}", body.join(","))
    }
}
impl<K: std::fmt::Display, V: LlmbenchJson> LlmbenchJson for std::collections::BTreeMap<K, V> {
    fn llmbench_json(&self) -> String {
        let body: Vec<String> =
            self.iter().map(|(k, v)| format!("{}:{}", llmbench_str(&k.to_string()), v.llmbench_json())).collect();
        format!("{{{}}}", body.join(","))
    }
}
impl<A: LlmbenchJson, B: LlmbenchJson> LlmbenchJson for (A, B) {
    fn llmbench_json(&self) -> String { format!("[{},{}]", self.0.llmbench_json(), self.1.llmbench_json()) }
}
impl<A: LlmbenchJson, B: LlmbenchJson, C: LlmbenchJson> LlmbenchJson for (A, B, C) {
    fn llmbench_json(&self) -> String {
        format!("[{},{},{}]", self.0.llmbench_json(), self.1.llmbench_json(), self.2.llmbench_json())
    }
}

/// The Debug text of a value (for types without an encoding above).
pub fn dbg_text<T: std::fmt::Debug>(v: T) -> String { format!("{:?}", v) }

pub fn obs<T: LlmbenchJson, F: FnOnce() -> T>(key: &str, f: F) {
    use std::io::Write;
    let line = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => format!("{{\"key\":{},\"value\":{}}}", llmbench_str(key), v.llmbench_json()),
        Err(e) => {
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string());
            format!("{{\"key\":{},\"error\":{}}}", llmbench_str(key), llmbench_str(&format!("panic: {}", msg)))
        }
    };
    let mut out = std::io::stdout();
    let _ = write!(out, "\n{}\n", line);
    let _ = out.flush();
}
