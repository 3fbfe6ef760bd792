//! The benchmark's results: samples per variant, and the table printed at the end.

/// The measurements of one variant (socklab, or a reference) for one row.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub values: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The middle value (the mean of the two middle ones for an even count).
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// `124239 (120112-130050)`
    pub fn show(&self, digits: usize) -> String {
        let v = self.sorted();
        match (v.first(), v.last()) {
            (Some(min), Some(max)) => format!(
                "{:.*} ({:.*}-{:.*})",
                digits,
                self.median(),
                digits,
                min,
                digits,
                max
            ),
            _ => "-".to_string(),
        }
    }
}

/// One line of the table: socklab against one reference.
pub struct Row {
    pub what: String,
    pub unit: &'static str,
    pub digits: usize,
    pub socklab: Samples,
    pub reference_name: String,
    pub reference: Samples,
    /// What the ratio socklab/reference should be, in words (`>= 0.95x`).
    pub goal: String,
}

impl Row {
    /// The median of the runs' own ratios: each run measures socklab and its reference back to
    /// back, so a machine that gets slower or faster from one run to the next (a disk that
    /// flushes, a neighbour on the host) moves both sides of a run's ratio together, where it
    /// would move a ratio of two medians taken from different runs. Rows whose two sides were
    /// not measured run by run (different counts) fall back to the ratio of the medians.
    pub fn ratio(&self) -> f64 {
        let (socklab, reference) = (&self.socklab.values, &self.reference.values);
        if socklab.is_empty() || socklab.len() != reference.len() {
            return self.socklab.median() / self.reference.median();
        }
        let per_run = socklab.iter().zip(reference).map(|(s, r)| s / r).collect();
        Samples { values: per_run }.median()
    }
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    pub fn add(&mut self, row: Row) {
        // Show each row as soon as it is measured, so a long run shows progress.
        println!(
            "  {}: socklab {} {}, {} {} ({:.2}x; goal {})",
            row.what,
            row.socklab.show(row.digits),
            row.unit,
            row.reference_name,
            row.reference.show(row.digits),
            row.ratio(),
            row.goal
        );
        self.rows.push(row);
    }

    /// A line printed under the table (a limit measured, a variant skipped).
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        println!("  note: {note}");
        self.notes.push(note);
    }

    /// The table and its notes, as printed at the end (Markdown).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("| what | unit | socklab | reference | ratio | goal |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} {} | {:.2}x | {} |\n",
                row.what,
                row.unit,
                row.socklab.show(row.digits),
                row.reference_name,
                row.reference.show(row.digits),
                row.ratio(),
                row.goal
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("- {note}\n"));
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}
