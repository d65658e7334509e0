//! The console's HTML: one layout, escaped text, tables. Server-rendered with no
//! JavaScript and nothing fetched from elsewhere, so it works offline and loads at once.

use axum::response::Html;

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title`, who is looking (`who`, already escaped or empty), and `body`
/// (already HTML).
pub fn layout(title: &str, who: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} · berth</title><style>{STYLE}</style></head><body>\
         <header><a href=\"/ui/\">berth</a><span>{who}</span></header>\
         <main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    ))
}

/// A table of already-escaped cells.
pub fn table(headings: &[&str], rows: &[Vec<String>]) -> String {
    let head: String = headings.iter().map(|h| format!("<th>{}</th>", escape(h))).collect();
    let body: String = rows
        .iter()
        .map(|row| {
            let cells: String = row.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!("<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
}

/// Bytes as people read them.
pub fn size(bytes: i64) -> String {
    let bytes = bytes.max(0) as f64;
    match bytes {
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b} B"),
    }
}

/// Epoch seconds as UTC date and time.
pub fn time(epoch: Option<f64>) -> String {
    match epoch {
        Some(seconds) => {
            let time = aws_smithy_types::DateTime::from_secs(seconds as i64);
            time.fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default()
                .replace('T', " ")
        }
        None => "—".into(),
    }
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2733}\
header{display:flex;justify-content:space-between;padding:.6em 1.2em;background:#16324f;color:#fff}\
header a{color:#fff;font-weight:600;text-decoration:none}main{padding:1em 1.2em}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35em .6em;\
border-bottom:1px solid #dde3ea;vertical-align:top;white-space:nowrap}\
td:last-child{white-space:normal}th{background:#f2f5f8}main{overflow-x:auto}\
code,pre{font:13px ui-monospace,monospace}pre{background:#f6f8fa;padding:.8em;overflow:auto}\
.danger{background:#b42318;color:#fff;border:0;padding:.5em 1em;border-radius:4px}\
form.inline{display:inline}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(size(1_500_000), "1.5 MB");
        assert_eq!(time(Some(0.0)), "1970-01-01 00:00:00Z");
    }
}
