//! Building the book with mdBook as a library, and checking its links.
//!
//! mdBook reports problems (a missing `{{#include}}` anchor, say) through
//! `tracing` warnings rather than errors, so the build counts every warning
//! and error event and fails on any: the book must build clean.
//!
//! Every listing included into a code block gets a caption naming its file
//! (`Filename: src/echo.rs`, as in the Rust book), made from the include
//! line itself so that it can never name the wrong file.

use crate::Result;
use mdbook_driver::MDBook;
use mdbook_driver::book::{Book, BookItem};
use mdbook_driver::builtin_preprocessors::LinkPreprocessor;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Counts warning and error events.
struct CountWarnings(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for CountWarnings {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() <= Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Builds the book into `target/book` and checks every local link in it.
/// Returns the folder of the HTML site.
pub fn build(root: &Path) -> Result<PathBuf> {
    let warnings = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .with(tracing_subscriber::filter::LevelFilter::WARN)
        .with(CountWarnings(Arc::clone(&warnings)));
    let site = tracing::subscriber::with_default(subscriber, || -> Result<PathBuf> {
        let mut book =
            MDBook::load(root.join("book")).map_err(|e| format!("loading the book: {e:#}"))?;
        // Same name: it takes the place (and the turn) of mdBook's own.
        book.with_preprocessor(CaptionedLinks);
        book.build()
            .map_err(|e| format!("building the book: {e:#}"))?;
        Ok(book.build_dir_for("html"))
    })?;
    let warnings = warnings.load(Ordering::Relaxed);
    if warnings > 0 {
        return Err(format!(
            "the book built with {warnings} warning(s); see above"
        ));
    }
    let broken = check_links(&site)?;
    if !broken.is_empty() {
        for link in &broken {
            eprintln!("broken link: {link}");
        }
        return Err(format!("{} broken link(s) in the book", broken.len()));
    }
    Ok(site)
}

/// mdBook's `links` preprocessor (which expands `{{#include}}`), preceded
/// by captions: a code block that opens with an include line gets
/// `Filename: PATH` above it, PATH taken from that line.
struct CaptionedLinks;

impl Preprocessor for CaptionedLinks {
    fn name(&self) -> &str {
        LinkPreprocessor::NAME
    }

    fn run(
        &self,
        ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_driver::errors::Result<Book> {
        book.for_each_mut(|item| {
            if let BookItem::Chapter(chapter) = item {
                chapter.content = add_captions(&chapter.content);
            }
        });
        LinkPreprocessor::new().run(ctx, book)
    }
}

/// The caption a listing gets, or `None` for a line that is not an include.
fn caption_for(include_line: &str) -> Option<String> {
    let inner = include_line
        .trim()
        .strip_prefix("{{#")?
        .strip_suffix("}}")?
        .trim();
    let target = inner
        .strip_prefix("include ")
        .or_else(|| inner.strip_prefix("rustdoc_include "))?
        .trim();
    let path = target.split(':').next()?;
    // Pages live in book/src/: the repository root is two folders up.
    let path = path.trim_start_matches("../");
    Some(format!("<p class=\"filename\">Filename: {path}</p>"))
}

fn add_captions(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = String::with_capacity(markdown.len() + 256);
    let mut in_code = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            if !in_code && let Some(caption) = lines.get(i + 1).and_then(|next| caption_for(next)) {
                out.push_str(&caption);
                out.push_str("\n\n");
            }
            in_code = !in_code;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every `href`/`src` in the site's HTML that points at a missing file, or at
/// a missing `id` inside an existing page. Links off the site are skipped:
/// CI has no network, and the book keeps those few.
pub fn check_links(site: &Path) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    collect_html(site, &mut pages)?;
    let mut ids: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut broken = Vec::new();
    for page in &pages {
        let html = fs::read_to_string(page).map_err(|e| format!("{}: {e}", page.display()))?;
        for link in attribute_values(&html, "href").chain(attribute_values(&html, "src")) {
            if is_external(link) {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
            let path = path.split('?').next().unwrap_or_default();
            let target = if path.is_empty() {
                page.clone()
            } else if let Some(from_root) = path.strip_prefix('/') {
                // The book is served at the site's root (404.html links to "/").
                site.join(from_root)
            } else {
                page.parent().unwrap_or(site).join(path)
            };
            let target = if target.is_dir() {
                target.join("index.html")
            } else {
                target
            };
            let where_ = format!(
                "{} -> {link}",
                page.strip_prefix(site).unwrap_or(page).display()
            );
            if !target.is_file() {
                broken.push(where_);
                continue;
            }
            if fragment.is_empty() || target.extension().is_none_or(|ext| ext != "html") {
                continue;
            }
            let known = match ids.get(&target) {
                Some(known) => known,
                None => {
                    let text = fs::read_to_string(&target)
                        .map_err(|e| format!("{}: {e}", target.display()))?;
                    let found = attribute_values(&text, "id").map(str::to_string).collect();
                    ids.entry(target.clone()).or_insert(found)
                }
            };
            if !known.iter().any(|id| id == fragment) {
                broken.push(where_);
            }
        }
    }
    Ok(broken)
}

fn is_external(link: &str) -> bool {
    [
        "http://",
        "https://",
        "mailto:",
        "javascript:",
        "data:",
        "//",
    ]
    .iter()
    .any(|scheme| link.starts_with(scheme))
}

fn collect_html(dir: &Path, pages: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_html(&path, pages)?;
        } else if path.extension().is_some_and(|ext| ext == "html") {
            pages.push(path);
        }
    }
    Ok(())
}

/// The values of `name="..."` attributes, in order.
fn attribute_values<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
    let needle = format!(" {name}=\"");
    let mut rest = html;
    std::iter::from_fn(move || {
        let start = rest.find(&needle)? + needle.len();
        let len = rest[start..].find('"')?;
        let value = &rest[start..start + len];
        rest = &rest[start + len..];
        Some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_attribute_values() {
        let html = r##"<a href="a.html#x">A</a> <img src="i.png"> <h2 id="x">"##;
        assert_eq!(
            attribute_values(html, "href").collect::<Vec<_>>(),
            ["a.html#x"]
        );
        assert_eq!(attribute_values(html, "id").collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn reports_missing_pages_and_fragments() {
        let site = std::env::temp_dir().join(format!("netladder-linkcheck-{}", std::process::id()));
        fs::create_dir_all(&site).unwrap();
        fs::write(
            site.join("a.html"),
            r##"<h1 id="top"></h1><a href="a.html#top"></a><a href="#gone"></a>"##,
        )
        .unwrap();
        fs::write(
            site.join("b.html"),
            r#"<a href="missing.html"></a><a href="https://example.org/"></a>"#,
        )
        .unwrap();
        let mut broken = check_links(&site).unwrap();
        broken.sort();
        fs::remove_dir_all(&site).unwrap();
        assert_eq!(broken, ["a.html -> #gone", "b.html -> missing.html"]);
    }

    #[test]
    fn included_listings_get_their_file_name() {
        let page = "Text\n\n```rust,ignore\n{{#include ../../src/echo.rs:echo}}\n```\n\n{{#include ch04/summary.md}}\n";
        let captioned = add_captions(page);
        assert!(captioned.contains(
            "<p class=\"filename\">Filename: src/echo.rs</p>\n\n```rust,ignore\n{{#include ../../src/echo.rs:echo}}"
        ));
        // Not in a code block: a table or text, no caption.
        assert_eq!(captioned.matches("Filename:").count(), 1);
        assert_eq!(caption_for("plain text"), None);
    }

    #[test]
    fn the_real_book_builds_clean() {
        let site = build(&crate::repo_root()).unwrap();
        assert!(site.join("index.html").is_file());
    }
}
