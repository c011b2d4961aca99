//! The printed results: tables (a left-aligned label column, right-aligned value
//! columns, ` | ` between them, a rule under the header) and the `targets:` section.

use std::fmt::Display;

/// A table's column widths, once its header is printed.
#[derive(Debug)]
pub struct Table {
    widths: Vec<usize>,
}

impl Table {
    /// Prints the header (`columns`: title and width) and the rule under it.
    pub fn print_header(columns: &[(&str, usize)]) -> Self {
        let table = Table {
            widths: columns.iter().map(|&(_, w)| w).collect(),
        };
        table.row(columns.iter().map(|&(title, _)| title));
        let width = table.widths.iter().sum::<usize>() + 3 * (table.widths.len() - 1);
        println!("{}", "-".repeat(width));
        table
    }

    /// Prints one row: the first cell left-aligned, the others right-aligned, each padded
    /// to its column (a row may have fewer cells than columns).
    pub fn row<T: Display>(&self, cells: impl IntoIterator<Item = T>) {
        let mut line = String::new();
        for (i, (cell, &width)) in cells.into_iter().zip(&self.widths).enumerate() {
            if i == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!(" | {cell:>width$}"));
            }
        }
        println!("{line}");
    }
}

/// The `targets:` section: met targets are printed as they are checked, missed ones
/// together at the end.
#[derive(Debug)]
pub struct Targets {
    missed: Vec<String>,
}

impl Targets {
    /// Prints the section's title.
    pub fn begin() -> Self {
        println!();
        println!("targets:");
        Targets { missed: Vec::new() }
    }

    /// A target described by `text`, met or not.
    pub fn check(&mut self, met: bool, text: String) {
        if met {
            println!("  met: {text}");
        } else {
            self.missed.push(text);
        }
    }

    /// Prints the missed targets.
    pub fn end(self) {
        for text in &self.missed {
            println!("  TARGET MISSED: {text}");
        }
        println!();
    }
}
