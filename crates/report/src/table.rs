//! The one plain-text and markdown table writer of dmo's reports (the trace
//! report and the model-plan report).

use std::io::Write;

/// How a column's cells line up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
}

/// Plain-text lines: the header, then one line per row, each column padded
/// to its widest cell and joined by two spaces, trailing blanks trimmed.
/// Padded by hand: `{:<width$}` panics for widths over 65535, and cells
/// (op and tensor names) come from files.
pub fn text_lines<S: AsRef<str>>(
    header: &[S],
    align: &[Align],
    rows: &[Vec<String>],
) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (column, (cell, width)) in cells.zip(&widths).enumerate() {
            if column > 0 {
                text.push_str("  ");
            }
            let padding = " ".repeat(width.saturating_sub(cell.chars().count()));
            match align.get(column).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    text.push_str(cell);
                    text.push_str(&padding);
                }
                Align::Right => {
                    text.push_str(&padding);
                    text.push_str(cell);
                }
            }
        }
        text.trim_end().to_owned()
    };
    let mut lines = vec![line(&mut header.iter().map(|h| h.as_ref()))];
    lines.extend(
        rows.iter()
            .map(|row| line(&mut row.iter().map(String::as_str))),
    );
    lines
}

/// Markdown lines: header, alignment row, rows; `|` in cells escaped.
pub fn markdown_lines<S: AsRef<str>>(
    header: &[S],
    align: &[Align],
    rows: &[Vec<String>],
) -> Vec<String> {
    let escape = |cell: &str| cell.replace('|', "\\|");
    let header: Vec<String> = header.iter().map(|h| escape(h.as_ref())).collect();
    let separators: Vec<&str> = (0..header.len())
        .map(
            |column| match align.get(column).copied().unwrap_or(Align::Left) {
                Align::Left => "---",
                Align::Right => "---:",
            },
        )
        .collect();
    let mut lines = vec![
        format!("| {} |", header.join(" | ")),
        format!("|{}|", separators.join("|")),
    ];
    for row in rows {
        let cells: Vec<String> = row.iter().map(|cell| escape(cell)).collect();
        lines.push(format!("| {} |", cells.join(" | ")));
    }
    lines
}

/// A left-aligned table as text or markdown.
pub fn write_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    markdown: bool,
) -> std::io::Result<()> {
    let align = vec![Align::Left; header.len()];
    let lines = if markdown {
        markdown_lines(header, &align, rows)
    } else {
        text_lines(header, &align, rows)
    };
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_pad_to_the_widest_cell_and_align() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string()],
            vec!["bbb".into(), "22".into()],
        ];
        let lines = text_lines(&["x", "n"], &[Align::Left, Align::Right], &rows);
        assert_eq!(lines, ["x     n", "a     1", "bbb  22"]);
        let md = markdown_lines(
            &["x", "n"],
            &[Align::Left, Align::Right],
            &[vec!["a|b".into(), "1".into()]],
        );
        assert_eq!(md, ["| x | n |", "|---|---:|", "| a\\|b | 1 |"]);
    }

    #[test]
    fn a_cell_wider_than_any_format_width_is_padded_not_panicked_on() {
        let wide = "x".repeat(70_000);
        let lines = text_lines(
            &["name", "v"],
            &[Align::Left, Align::Left],
            &[vec![wide.clone(), "1".into()]],
        );
        assert_eq!(lines[1], format!("{wide}  1"));
    }
}
