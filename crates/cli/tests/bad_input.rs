//! The bad-input matrix: every command against every class of bad input.
//!
//! Each case runs the real binary and asserts what docs/cli.md promises: exit
//! code 2 for anything the user can fix, one line on stderr that names the
//! problem (the file or the parameter), no panic or backtrace text, no output
//! file left under its final name and no temporary left behind.
//!
//! The cases are data, `tests/data/bad_input.json`: bad data files × the
//! commands that read data (so a new command gets every class by adding one
//! line), side files and the cases that use them, and every output option ×
//! unwritable folders. This file only makes the files, expands the
//! placeholders (see the table's `about`) and runs the cases; a table that is
//! empty, has an unknown field or placeholder, or a case without an expected
//! message fails before anything runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use mmclust_core::format::f16_bits_to_f32;
use serde::Deserialize;

const TABLE: &str = "tests/data/bad_input.json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[allow(dead_code)]
    about: String,
    bad_data: Vec<BadData>,
    data_commands: Vec<DataCommand>,
    files: Vec<SideFile>,
    cases: Vec<CaseSpec>,
    outputs: Vec<OutputSpec>,
}

/// A class of bad data file, and what stderr must say besides its name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BadData {
    class: String,
    file: String,
    make: Make,
    want: String,
    /// NaN or ±inf values: data to commands that accept them.
    #[serde(default)]
    non_finite: bool,
    /// Nulls in a Parquet/Arrow column: data to commands that count them.
    #[serde(default)]
    nulls: bool,
}

/// A command that reads a data matrix: `{data}` and `{out}/...` in its
/// arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataCommand {
    name: String,
    args: Vec<String>,
    #[serde(default)]
    accepts_non_finite: bool,
    /// Reads a file with nulls, counting them (`info`).
    #[serde(default)]
    counts_nulls: bool,
}

/// A side input (weights, labels, models, checkpoints) made before the cases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideFile {
    file: String,
    make: Make,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    args: Vec<String>,
    want: Vec<String>,
}

/// An output option: `OUT` is the output, `OTHER` another one of the run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSpec {
    name: String,
    args: Vec<String>,
}

/// How a file is made: nothing (`missing`), a folder (`dir`), a `.npy`, or a
/// copy of the driver's K-means model or checkpoint (`from`), then cut
/// (`keep_half`, `keep_first`, `drop_last`), edited (`json_set`: JSON
/// pointer, value) and extended by `parts` (text, or a list of bytes).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Make {
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    dir: bool,
    npy: Option<Npy>,
    from: Option<String>,
    /// A committed file: a sparse `.npz` of `crates/cli/tests/data/`, or a
    /// Parquet/Arrow fixture of `crates/core/tests/fixtures/columnar/`.
    fixture: Option<String>,
    #[serde(default)]
    keep_half: bool,
    keep_first: Option<usize>,
    drop_last: Option<usize>,
    #[serde(default)]
    json_set: Vec<(String, serde_json::Value)>,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Part {
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Npy {
    descr: String,
    #[serde(default)]
    fortran: bool,
    shape: String,
    values: Values,
}

/// The data of a `.npy`: exactly one of zero bytes, the good matrix with
/// `good_cols` columns, or `[value, length]` of float32 or int32; `set` then
/// replaces float values (`[index, number or "nan"/"inf"/"-inf"]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Values {
    zero_bytes: Option<usize>,
    good_cols: Option<usize>,
    f32_fill: Option<(f32, usize)>,
    i32_fill: Option<(i32, usize)>,
    #[serde(default)]
    set: Vec<(usize, serde_json::Value)>,
}

/// Reads and checks the table.
fn load_table(text: &str) -> Result<Table, String> {
    let table: Table = serde_json::from_str(text).map_err(|e| format!("{TABLE}: {e}"))?;
    let sections = [
        ("bad_data", table.bad_data.len()),
        ("data_commands", table.data_commands.len()),
        ("files", table.files.len()),
        ("cases", table.cases.len()),
        ("outputs", table.outputs.len()),
    ];
    for (name, len) in sections {
        if len == 0 {
            return Err(format!("{TABLE}: section {name} is empty"));
        }
    }
    let names = [
        table.bad_data.iter().map(|b| &b.class).collect::<Vec<_>>(),
        table.data_commands.iter().map(|c| &c.name).collect(),
        table.files.iter().map(|f| &f.file).collect(),
        table.cases.iter().map(|c| &c.name).collect(),
        table.outputs.iter().map(|o| &o.name).collect(),
    ];
    for list in names {
        let mut seen = BTreeSet::new();
        if let Some(dup) = list.iter().find(|n| !seen.insert(**n)) {
            return Err(format!("{TABLE}: {dup:?} twice"));
        }
    }
    let dummy = Placeholders::dummy();
    let check = |what: &str, args: &[String], data: bool| -> Result<(), String> {
        if args.is_empty() {
            return Err(format!("{TABLE}: {what}: no arguments"));
        }
        let data = data.then(|| PathBuf::from("data.npy"));
        expand(args, &dummy, data.as_deref(), Path::new("out"))
            .map(|_| ())
            .map_err(|e| format!("{TABLE}: {what}: {e}"))
    };
    for c in &table.data_commands {
        check(&c.name, &c.args, true)?;
    }
    for c in &table.cases {
        check(&c.name, &c.args, false)?;
        if c.want.is_empty() || c.want.iter().any(String::is_empty) {
            return Err(format!("{TABLE}: {}: no expected message", c.name));
        }
    }
    for o in &table.outputs {
        check(&o.name, &o.args, false)?;
        if !o.args.iter().any(|a| a == "OUT") {
            return Err(format!("{TABLE}: {}: no OUT", o.name));
        }
    }
    for b in &table.bad_data {
        if b.want.is_empty() {
            return Err(format!("{TABLE}: {}: no expected message", b.class));
        }
    }
    Ok(table)
}

fn table() -> Table {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE))
        .unwrap_or_else(|e| panic!("{TABLE}: {e}"));
    load_table(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The driver's own files, by placeholder name, and the folder `{env}`.
struct Placeholders {
    named: BTreeMap<&'static str, PathBuf>,
    env: PathBuf,
}

impl Placeholders {
    fn dummy() -> Self {
        let named = ["good", "good_d3", "km", "gmm", "labels", "ck", "stats"]
            .into_iter()
            .map(|n| (n, PathBuf::from(n)))
            .collect();
        Placeholders {
            named,
            env: PathBuf::from("env"),
        }
    }
}

/// `args` with their placeholders replaced; an unknown one is an error.
fn expand(
    args: &[String],
    p: &Placeholders,
    data: Option<&Path>,
    out: &Path,
) -> Result<Vec<String>, String> {
    args.iter()
        .map(|a| {
            let Some(rest) = a.strip_prefix('{') else {
                return if a.contains('{') {
                    Err(format!("a placeholder inside {a:?}"))
                } else {
                    Ok(a.clone())
                };
            };
            let (name, tail) = rest
                .split_once('}')
                .ok_or_else(|| format!("unclosed placeholder {a:?}"))?;
            let path = match (name, tail.strip_prefix('/')) {
                ("env", Some(file)) => p.env.join(file),
                ("out", Some(file)) => out.join(file),
                ("data", None) => data.ok_or("{data} outside data_commands")?.to_path_buf(),
                (name, None) => p
                    .named
                    .get(name)
                    .ok_or_else(|| format!("unknown placeholder {a:?}"))?
                    .clone(),
                _ => return Err(format!("unknown placeholder {a:?}")),
            };
            Ok(s(&path).to_string())
        })
        .collect()
}

/// The outputs in `args` before expansion: the `{out}/...` ones.
fn outputs_of(args: &[String], out: &Path) -> Vec<PathBuf> {
    args.iter()
        .filter_map(|a| a.strip_prefix("{out}/"))
        .map(|file| out.join(file))
        .collect()
}

/// 20 rows, `d` columns, two clear groups.
fn good_values(d: usize) -> Vec<f32> {
    (0..20 * d)
        .map(|i| {
            let row = i / d;
            (if row.is_multiple_of(2) { 0.0 } else { 10.0 }) + (i % 7) as f32 * 0.1
        })
        .collect()
}

/// The half-precision bits of `x`, rounded to nearest even: the table's
/// float values (0 to 11, NaN, ±inf) are all in the normal range of `<f2`.
fn f16_bits(x: f32) -> u16 {
    let sign = ((x.to_bits() >> 16) & 0x8000) as u16;
    if x.is_nan() {
        return 0x7e00;
    }
    if x.is_infinite() {
        return sign | 0x7c00;
    }
    if x == 0.0 {
        return sign;
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    assert!((1..31).contains(&exponent), "{x} is not a normal half");
    let mantissa = bits & 0x7f_ffff;
    let mut h = ((exponent as u32) << 10) | (mantissa >> 13);
    let rest = mantissa & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

impl Values {
    /// The data bytes: float values as `<f4`, or as `<f2` when `descr` says so.
    fn bytes(&self, descr: &str) -> Vec<u8> {
        let given = [
            self.zero_bytes.is_some(),
            self.good_cols.is_some(),
            self.f32_fill.is_some(),
            self.i32_fill.is_some(),
        ];
        assert_eq!(
            given.iter().filter(|g| **g).count(),
            1,
            "{self:?}: one kind of values"
        );
        if let Some(n) = self.zero_bytes {
            return vec![0; n];
        }
        if let Some((v, n)) = self.i32_fill {
            assert!(self.set.is_empty(), "{self:?}: set is for float values");
            return i32_bytes(&vec![v; n]);
        }
        let mut v = match (self.good_cols, self.f32_fill) {
            (Some(d), _) => good_values(d),
            (_, Some((x, n))) => vec![x; n],
            _ => unreachable!(),
        };
        for (i, x) in &self.set {
            v[*i] = match x {
                serde_json::Value::Number(n) => n.as_f64().unwrap() as f32,
                serde_json::Value::String(t) => t.parse().expect("nan, inf or -inf"),
                other => panic!("{other}: not a value"),
            };
        }
        if descr == "<f2" {
            return v.iter().flat_map(|&x| f16_bits(x).to_le_bytes()).collect();
        }
        f32_bytes(&v)
    }
}

/// The files every case draws on.
struct Env {
    dir: tempfile::TempDir,
    placeholders: Placeholders,
}

impl Env {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn get(&self, name: &str) -> &Path {
        &self.placeholders.named[name]
    }

    /// The good data, the models, labels, checkpoint and statistics fitted to
    /// it, and the table's side files.
    fn new(table: &Table) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut named = BTreeMap::new();
        for (name, file) in [
            ("good", "good.npy"),
            ("good_d3", "good_d3.npy"),
            ("km", "km.json"),
            ("gmm", "gmm.json"),
            ("labels", "labels.npy"),
            ("ck", "mb.ck"),
            ("stats", "stats.json"),
        ] {
            named.insert(name, dir.path().join(file));
        }
        for (name, d) in [("good", 2), ("good_d3", 3)] {
            let shape = format!("(20, {d})");
            let bytes = npy_bytes("<f4", false, &shape, &f32_bytes(&good_values(d)));
            std::fs::write(&named[name], bytes).unwrap();
        }
        let env = Env {
            placeholders: Placeholders {
                named,
                env: dir.path().to_path_buf(),
            },
            dir,
        };
        for list in [
            "kmeans {good} -k 2 --model-out {km} --labels-out {labels}",
            "gmm {good} -k 2 --model-out {gmm}",
            "kmeans {good} -k 2 --algorithm minibatch --batch-size 4 --max-iter 2 --checkpoint {ck}",
            "standardize {good} -o {env}/z.npy --stats-out {stats}",
        ] {
            let words: Vec<String> = list
                .split(' ')
                .chain(["--quiet"])
                .map(String::from)
                .collect();
            let a = expand(&words, &env.placeholders, None, env.dir.path()).unwrap();
            let o = run(&a);
            assert!(o.status.success(), "{a:?}: {}", stderr(&o));
        }
        for f in &table.files {
            env.make(&f.file, &f.make);
        }
        env
    }

    /// Makes file `name` as `make` says; its path.
    fn make(&self, name: &str, make: &Make) -> PathBuf {
        let path = self.path(name);
        if make.missing {
            return path;
        }
        if make.dir {
            std::fs::create_dir_all(&path).unwrap();
            return path;
        }
        let mut bytes = match (&make.npy, make.from.as_deref(), make.fixture.as_deref()) {
            (Some(n), None, None) => {
                npy_bytes(&n.descr, n.fortran, &n.shape, &n.values.bytes(&n.descr))
            }
            (None, Some(from @ ("km" | "ck")), None) => std::fs::read(self.get(from)).unwrap(),
            (None, None, Some(file)) => {
                // The sparse `.npz` fixtures live in this crate's tests/data,
                // the Parquet/Arrow ones with the core crate's readers.
                let here = repo().join("crates/cli/tests/data").join(file);
                let path = if here.exists() {
                    here
                } else {
                    repo()
                        .join("crates/core/tests/fixtures/columnar")
                        .join(file)
                };
                std::fs::read(path).unwrap()
            }
            (None, None, None) => Vec::new(),
            _ => panic!("{name}: npy, from km or ck, or a fixture"),
        };
        if !make.json_set.is_empty() {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for (pointer, value) in &make.json_set {
                *v.pointer_mut(pointer)
                    .unwrap_or_else(|| panic!("{name}: no {pointer}")) = value.clone();
            }
            bytes = v.to_string().into_bytes();
        }
        if make.keep_half {
            bytes.truncate(bytes.len() / 2);
        }
        if let Some(n) = make.keep_first {
            bytes.truncate(n);
        }
        if let Some(n) = make.drop_last {
            bytes.truncate(bytes.len() - n);
        }
        for part in &make.parts {
            match part {
                Part::Text(t) => bytes.extend_from_slice(t.as_bytes()),
                Part::Bytes(b) => bytes.extend_from_slice(b),
            }
        }
        self.write(name, &bytes)
    }

    fn expand(&self, args: &[String], data: Option<&Path>, out: &Path) -> Vec<String> {
        expand(args, &self.placeholders, data, out).unwrap()
    }
}

/// One run that must fail.
struct Case {
    name: String,
    args: Vec<String>,
    code: i32,
    /// Every one of these must appear in stderr.
    want: Vec<String>,
    /// Paths that must not exist afterwards.
    outputs: Vec<PathBuf>,
    /// Folder that must hold no temporary of `outputs` afterwards.
    out_dir: PathBuf,
}

fn check(case: &Case) -> Result<(), String> {
    let o = run(&case.args);
    let err = String::from_utf8_lossy(&o.stderr);
    let mut problems = Vec::new();
    if o.status.code() != Some(case.code) {
        problems.push(format!(
            "exit {:?}, expected {}",
            o.status.code(),
            case.code
        ));
    }
    for w in &case.want {
        if !err.contains(w.as_str()) {
            problems.push(format!("stderr lacks {w:?}"));
        }
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panic text".into());
    }
    if err
        .trim()
        .lines()
        .filter(|l| l.starts_with("error"))
        .count()
        != 1
    {
        problems.push("not exactly one error line".into());
    }
    for p in &case.outputs {
        if p.exists() {
            problems.push(format!("{} exists", p.display()));
        }
    }
    // Temporaries are `.NAME.mmclust-tmp-PID-N` beside each output.
    let temp_prefixes: Vec<String> = case
        .outputs
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| format!(".{}.mmclust-tmp", n.to_string_lossy()))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&case.out_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if temp_prefixes.iter().any(|t| name.starts_with(t.as_str())) {
                problems.push(format!("temporary {} left", e.path().display()));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n    args: {:?}\n    stderr: {}",
            case.name,
            problems.join("; "),
            case.args,
            err.trim()
        ))
    }
}

/// Runs every case (a few at a time) and reports all failures together.
fn run_all(cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let total = cases.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if let Err(e) = check(case) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The bad data files of the table, made in the env folder.
fn bad_data<'t>(env: &Env, table: &'t Table) -> Vec<(&'t BadData, PathBuf)> {
    table
        .bad_data
        .iter()
        .map(|b| (b, env.make(&b.file, &b.make)))
        .collect()
}

#[test]
fn the_table_is_checked_before_anything_runs() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE)).unwrap();
    let table = load_table(&text).unwrap();
    assert!(table.cases.len() >= 80, "{} cases", table.cases.len());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let broken = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = v.clone();
        f(&mut v);
        load_table(&v.to_string()).unwrap_err()
    };
    assert!(load_table("").is_err());
    assert!(broken(&|v| v["cases"] = serde_json::json!([])).contains("cases is empty"));
    assert!(broken(&|v| v["cases"][0]["want"] = serde_json::json!([])).contains("no expected"));
    assert!(broken(&|v| v["cases"][0]["args"][1] = "{nope}".into()).contains("unknown"));
    assert!(broken(&|v| v["cases"][0]["typo"] = 1.into()).contains("unknown field"));
    assert!(broken(&|v| v["outputs"][0]["args"] = serde_json::json!(["info"])).contains("no OUT"));
    assert!(broken(&|v| v["cases"][1]["name"] = v["cases"][0]["name"].clone()).contains("twice"));
}

#[test]
fn every_command_refuses_every_bad_data_file() {
    let table = table();
    let env = Env::new(&table);
    let mut cases = Vec::new();
    for (bad, file) in bad_data(&env, &table) {
        for command in &table.data_commands {
            if (bad.non_finite && command.accepts_non_finite) || (bad.nulls && command.counts_nulls)
            {
                continue;
            }
            let out = env.path(&format!("out-{}-{}", command.name, bad.class));
            std::fs::create_dir_all(&out).unwrap();
            cases.push(Case {
                name: format!("{} × {}", command.name, bad.class),
                args: env.expand(&command.args, Some(&file), &out),
                code: 2,
                want: vec![bad.file.clone(), bad.want.clone()],
                outputs: outputs_of(&command.args, &out),
                out_dir: out,
            });
        }
    }
    run_all(cases);
}

#[test]
fn non_finite_values_are_counted_by_info_and_copied_by_convert() {
    let table = table();
    let env = Env::new(&table);
    let non_finite: Vec<_> = bad_data(&env, &table)
        .into_iter()
        .filter(|(b, _)| b.non_finite)
        .collect();
    assert!(!non_finite.is_empty(), "{TABLE}: no non-finite class");
    for (bad, file) in non_finite {
        let class = &bad.class;
        let v = json(&run(&["info", s(&file), "--stats", "--json"]));
        let cols = v["stats"]["columns"].as_array().unwrap();
        let flagged: u64 = cols
            .iter()
            .map(|c| c["nan"].as_u64().unwrap_or(0) + c["inf"].as_u64().unwrap_or(0))
            .sum();
        let text = v["stats"].to_string();
        assert!(
            flagged == 1 || text.contains("inf") || text.contains("nan"),
            "{class}: {text}"
        );
        let out = env.path(&format!("copy-{class}.npy"));
        let o = run(&["convert", s(&file), s(&out)]);
        assert!(o.status.success(), "{class}");
        let input = std::fs::read(&file).unwrap();
        let want: Vec<u8> = match bad.make.npy.as_ref().map(|n| n.descr.as_str()) {
            // float16 widens to float32 exactly (checked against numpy in
            // crates/core/tests/formats.rs), NaN and ±inf included.
            Some("<f2") => input[128..]
                .chunks_exact(2)
                .map(|c| f16_bits_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .flat_map(f32::to_le_bytes)
                .collect(),
            _ => input[128..].to_vec(),
        };
        assert_eq!(
            std::fs::read(&out).unwrap()[128..],
            want[..],
            "{class}: convert copies the values bit for bit"
        );
    }
}

#[test]
fn every_command_refuses_bad_parameters_and_side_inputs() {
    let table = table();
    let env = Env::new(&table);
    let out = env.path("out-other");
    std::fs::create_dir_all(&out).unwrap();
    let cases = table
        .cases
        .iter()
        .map(|c| Case {
            name: c.name.clone(),
            args: env.expand(&c.args, None, &out),
            code: 2,
            want: c.want.clone(),
            outputs: outputs_of(&c.args, &out),
            out_dir: out.clone(),
        })
        .collect();
    run_all(cases);
}

/// Every output option of the table, as (name, arguments with OUT and OTHER
/// left for the output paths).
fn output_options(env: &Env, table: &Table) -> Vec<(String, Vec<String>)> {
    table
        .outputs
        .iter()
        .map(|o| (o.name.clone(), env.expand(&o.args, None, env.dir.path())))
        .collect()
}

#[test]
fn every_output_refuses_unwritable_folders_and_input_paths() {
    let table = table();
    let env = Env::new(&table);
    // A folder that does not exist; a "folder" that is a file; a folder that
    // cannot be written (permissions do not bind root, so as root /proc, where
    // no one can create files, stands in for a read-only folder).
    let missing = env.path("no-such-folder");
    let file_as_dir = env.write("plain-file", b"x");
    let read_only = env.path("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    #[cfg(unix)]
    let read_only = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            PathBuf::from("/proc")
        } else {
            read_only
        }
    };
    let mut cases = Vec::new();
    for (i, (name, list)) in output_options(&env, &table).into_iter().enumerate() {
        // A plot's name must end in .svg or .png (any other is refused while
        // the command line is parsed: eval_cli tests it), so no plot can be
        // named onto an input, which is data or a model.
        let is_plot = list.iter().any(|x| x == "--plot-out");
        // Each case its own folder for the other output: cases run four at a
        // time, and one case's temporary there, alive until that process
        // fails, must not be taken for another case's leftover.
        let other_in = |tag: &str| {
            let dir = env.path(&format!("other-{i}-{tag}"));
            std::fs::create_dir_all(&dir).unwrap();
            (dir.join("other.npy"), dir)
        };
        for (j, (folder_class, folder)) in [
            ("missing folder", &missing),
            ("file as folder", &file_as_dir),
            ("read-only folder", &read_only),
        ]
        .into_iter()
        .enumerate()
        {
            let (other, other_dir) = other_in(&j.to_string());
            let out = folder.join(if is_plot {
                "out-file.svg"
            } else {
                "out-file.npy"
            });
            let a: Vec<String> = list
                .iter()
                .map(|x| match x.as_str() {
                    "OUT" => s(&out).to_string(),
                    "OTHER" => s(&other).to_string(),
                    x => x.to_string(),
                })
                .collect();
            cases.push(Case {
                name: format!("{name} into a {folder_class}"),
                args: a,
                code: 2,
                want: vec![s(folder).to_string()],
                outputs: vec![out, other.clone()],
                out_dir: other_dir.clone(),
            });
        }
        // Output path = an input path: the data file, or the model.
        let input_copy = env.path(&format!("input-{i}.npy"));
        let input = list
            .iter()
            .find(|x| x.ends_with(".npy") || x.ends_with(".json"))
            .cloned()
            .filter(|_| !is_plot);
        if let Some(input) = input {
            let (other, _) = other_in("input");
            std::fs::copy(&input, &input_copy).unwrap();
            let a: Vec<String> = list
                .iter()
                .map(|x| match x.as_str() {
                    "OUT" => s(&input_copy).to_string(),
                    "OTHER" => s(&other).to_string(),
                    x if *x == input => s(&input_copy).to_string(),
                    x => x.to_string(),
                })
                .collect();
            cases.push(Case {
                name: format!("{name} onto its input"),
                args: a,
                code: 2,
                want: vec![
                    "input".into(),
                    input_copy
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                ],
                outputs: vec![other.clone()],
                out_dir: env.dir.path().to_path_buf(),
            });
        }
    }
    run_all(cases);
    // The inputs named as outputs are untouched.
    for (i, (_, list)) in output_options(&env, &table).into_iter().enumerate() {
        if list.iter().any(|x| x == "--plot-out") {
            continue;
        }
        if let Some(input) = list
            .iter()
            .find(|x| x.ends_with(".npy") || x.ends_with(".json"))
        {
            let copy = env.path(&format!("input-{i}.npy"));
            assert_eq!(
                std::fs::read(copy).unwrap(),
                std::fs::read(input).unwrap(),
                "input {i} was modified"
            );
        }
    }
}
