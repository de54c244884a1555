//! The emails Latch sends, rendered from templates: a subject, a plain-text
//! and an HTML part per kind. Built-in templates ship in the binary
//! (`crates/core/templates/`); an operator may replace any file, and every
//! replacement is checked when it is loaded, so a broken template stops
//! start-up instead of a mail.

use std::collections::BTreeMap;
use std::fmt;

use latch_ports::EmailMessage;

/// The largest template file accepted, in bytes.
const MAX_FILE_BYTES: usize = 64 * 1024;

/// What an email is for; each kind has its own three template files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// A link that confirms the account's address (to that address).
    VerifyEmail,
    /// A link that sets a new password (to the account's address).
    ResetPassword,
    /// A link that moves the account to a new address (to the NEW address).
    ChangeEmail,
    /// A notice that the address is being changed (to the OLD address; no link).
    EmailChangeNotice,
    /// A message that checks the mail setup (`latch send-test-email`).
    TestEmail,
}

impl EmailKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::ChangeEmail,
        Self::EmailChangeNotice,
        Self::TestEmail,
    ];

    /// The stem of the kind's file names (`verify_email`).
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
            Self::EmailChangeNotice => "email_change_notice",
            Self::TestEmail => "test_email",
        }
    }

    /// The placeholders the kind's files may use.
    fn allowed(self) -> &'static [Placeholder] {
        use Placeholder::{Email, Link, Name, NewEmail, ValidFor};
        match self {
            Self::VerifyEmail | Self::ResetPassword => &[Link, Email, Name, ValidFor],
            Self::ChangeEmail => &[Link, Email, NewEmail, Name, ValidFor],
            Self::EmailChangeNotice => &[Email, NewEmail, Name],
            Self::TestEmail => &[Email, Name],
        }
    }

    /// Whether the message exists to carry a link, so its body must show it.
    fn carries_link(self) -> bool {
        self.allowed().contains(&Placeholder::Link)
    }

    /// The kind's place in [`EmailKind::ALL`].
    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values a message is rendered with; a kind uses only some of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateValues<'a> {
    /// The link to follow (`{{link}}`), for the kinds that carry one.
    pub link: Option<&'a str>,
    /// The account's current address (`{{email}}`).
    pub email: &'a str,
    /// The address the account is moving to (`{{new_email}}`).
    pub new_email: Option<&'a str>,
    /// The display name (`{{name}}`); `None` shows the email instead.
    pub name: Option<&'a str>,
    /// How long the link works, in words (`{{valid_for}}`: "24 hours").
    pub valid_for: Option<&'a str>,
}

/// One part of a message: the subject line, the text or the HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    const ALL: [Self; 3] = [Self::Subject, Self::Text, Self::Html];

    fn suffix(self) -> &'static str {
        match self {
            Self::Subject => "subject.txt",
            Self::Text => "txt",
            Self::Html => "html",
        }
    }
}

/// A value a template can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Link,
    Email,
    NewEmail,
    Name,
    ValidFor,
}

impl Placeholder {
    const ALL: [Self; 5] = [
        Self::Link,
        Self::Email,
        Self::NewEmail,
        Self::Name,
        Self::ValidFor,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Email => "email",
            Self::NewEmail => "new_email",
            Self::Name => "name",
            Self::ValidFor => "valid_for",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The value to show; an absent optional value shows as nothing.
    fn value<'a>(self, values: &TemplateValues<'a>) -> &'a str {
        match self {
            Self::Link => values.link.unwrap_or_default(),
            Self::Email => values.email,
            Self::NewEmail => values.new_email.unwrap_or_default(),
            Self::Name => values.name.unwrap_or(values.email),
            Self::ValidFor => values.valid_for.unwrap_or_default(),
        }
    }
}

/// Why a template file was refused; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The name is not one of [`EmailTemplates::FILE_NAMES`].
    #[error("{file}: not a template file Latch uses (expected one of {expected})")]
    UnknownFile {
        /// The file name given.
        file: String,
        /// The names Latch reads, comma-separated.
        expected: String,
    },
    /// The same file was given twice.
    #[error("{file}: given more than once")]
    Duplicate {
        /// The file name.
        file: String,
    },
    /// The file is larger than Latch accepts.
    #[error("{file}: {size} bytes, over the limit of 64 KiB")]
    TooLarge {
        /// The file name.
        file: String,
        /// Its size in bytes.
        size: usize,
    },
    /// `{{name}}` names no value Latch has.
    #[error("{file}, line {line}: unknown placeholder {{{{{name}}}}} (this file may use {allowed})")]
    UnknownPlaceholder {
        /// The file name.
        file: String,
        /// The line, from 1.
        line: usize,
        /// What was between the braces, trimmed.
        name: String,
        /// The placeholders the file may use.
        allowed: String,
    },
    /// `{{name}}` is a value this kind of email does not have.
    #[error(
        "{file}, line {line}: {{{{{name}}}}} is not available in this email (this file may use {allowed})"
    )]
    NotAllowed {
        /// The file name.
        file: String,
        /// The line, from 1.
        line: usize,
        /// The placeholder.
        name: String,
        /// The placeholders the file may use.
        allowed: String,
    },
    /// A `{{` without its `}}`.
    #[error("{file}, line {line}: `{{{{` is not closed by `}}}}`")]
    Unclosed {
        /// The file name.
        file: String,
        /// The line of the `{{`, from 1.
        line: usize,
    },
    /// The subject is more than one line.
    #[error("{file}: a subject is one line")]
    MultilineSubject {
        /// The file name.
        file: String,
    },
    /// The text or HTML of an email that exists to carry a link does not show it.
    #[error("{file}: must contain {{{{link}}}}: the email exists to carry it")]
    MissingLink {
        /// The file name.
        file: String,
    },
}

/// One template file, parsed.
#[derive(Debug, Clone)]
struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Value(Placeholder),
}

/// A piece of template source as scanned, before it is checked.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Literal(&'a str),
    /// `{{ name }}`: the name trimmed, and the line it starts on.
    Placeholder(&'a str, usize),
    /// A `{{` with no `}}` after it, and the rest of the source from there.
    Unclosed(&'a str, usize),
}

/// Splits `source` at its `{{...}}` placeholders.
fn scan(source: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = source;
    let mut line = 1;
    while let Some(open) = rest.find("{{") {
        let (literal, from_open) = rest.split_at(open);
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        line += literal.matches('\n').count();
        let inner = &from_open[2..];
        match inner.find("}}") {
            Some(close) => {
                tokens.push(Token::Placeholder(inner[..close].trim(), line));
                line += inner[..close].matches('\n').count();
                rest = &inner[close + 2..];
            }
            None => {
                tokens.push(Token::Unclosed(from_open, line));
                return tokens;
            }
        }
    }
    if !rest.is_empty() {
        tokens.push(Token::Literal(rest));
    }
    tokens
}

/// `{{a}}, {{b}}` for error messages.
fn placeholder_list(placeholders: &[Placeholder]) -> String {
    placeholders
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Template {
    /// Checks `source` as the `part` of `kind` named `file`.
    fn check(file: &str, kind: EmailKind, part: Part, source: &str) -> Result<(), TemplateError> {
        let file = file.to_owned();
        if source.len() > MAX_FILE_BYTES {
            return Err(TemplateError::TooLarge {
                file,
                size: source.len(),
            });
        }
        let allowed = kind.allowed();
        let mut shows_link = false;
        for token in scan(source) {
            match token {
                Token::Literal(_) => {}
                Token::Unclosed(_, line) => return Err(TemplateError::Unclosed { file, line }),
                Token::Placeholder(name, line) => match Placeholder::parse(name) {
                    None => {
                        return Err(TemplateError::UnknownPlaceholder {
                            file,
                            line,
                            name: name.to_owned(),
                            allowed: placeholder_list(allowed),
                        });
                    }
                    Some(placeholder) if !allowed.contains(&placeholder) => {
                        return Err(TemplateError::NotAllowed {
                            file,
                            line,
                            name: name.to_owned(),
                            allowed: placeholder_list(allowed),
                        });
                    }
                    Some(placeholder) => shows_link |= placeholder == Placeholder::Link,
                },
            }
        }
        if part == Part::Subject && source.trim().contains(['\r', '\n']) {
            return Err(TemplateError::MultilineSubject { file });
        }
        if part != Part::Subject && kind.carries_link() && !shows_link {
            return Err(TemplateError::MissingLink { file });
        }
        Ok(())
    }

    /// The template `source` holds; a subject loses its surrounding
    /// whitespace (the file's final line end). Anything [`Template::check`]
    /// would refuse is kept as literal text.
    fn compile(part: Part, source: &str) -> Self {
        let source = if part == Part::Subject {
            source.trim()
        } else {
            source
        };
        let segments = scan(source)
            .into_iter()
            .map(|token| match token {
                Token::Literal(text) | Token::Unclosed(text, _) => Segment::Literal(text.to_owned()),
                Token::Placeholder(name, _) => match Placeholder::parse(name) {
                    Some(placeholder) => Segment::Value(placeholder),
                    None => Segment::Literal(format!("{{{{{name}}}}}")),
                },
            })
            .collect();
        Self { segments }
    }

    /// The text with every placeholder replaced by its value, made safe
    /// for `part`.
    fn render(&self, part: Part, values: &TemplateValues<'_>) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Value(placeholder) => {
                    let value = placeholder.value(values);
                    match part {
                        Part::Text => out.push_str(value),
                        Part::Html => escape_html(value, &mut out),
                        // A line break in a value would start a new header.
                        Part::Subject => out.extend(value.chars().map(|c| match c {
                            '\r' | '\n' => ' ',
                            c => c,
                        })),
                    }
                }
            }
        }
        out
    }
}

/// Appends `value` to `out` with the characters HTML gives meaning to escaped.
fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The three parsed templates of one kind.
#[derive(Debug, Clone)]
struct KindTemplates {
    subject: Template,
    text: Template,
    html: Template,
}

/// Every email's templates: the built-in ones, with any overrides applied.
#[derive(Debug, Clone)]
pub struct EmailTemplates {
    /// In the order of [`EmailKind::ALL`].
    kinds: [KindTemplates; EmailKind::ALL.len()],
}

/// Defines `BUILT_IN` (file name and contents) and `BUILT_IN_NAMES` from
/// the names of the files under `templates/`.
macro_rules! built_in_files {
    ($($name:literal),* $(,)?) => {
        /// The built-in files: name and contents.
        const BUILT_IN: &[(&str, &str)] = &[$(($name, include_str!(concat!("../templates/", $name)))),*];
        /// Their names.
        const BUILT_IN_NAMES: &[&str] = &[$($name),*];
    };
}

built_in_files![
    "verify_email.subject.txt",
    "verify_email.txt",
    "verify_email.html",
    "reset_password.subject.txt",
    "reset_password.txt",
    "reset_password.html",
    "change_email.subject.txt",
    "change_email.txt",
    "change_email.html",
    "email_change_notice.subject.txt",
    "email_change_notice.txt",
    "email_change_notice.html",
    "test_email.subject.txt",
    "test_email.txt",
    "test_email.html",
];

/// The kind and part a file name stands for.
fn file_of(name: &str) -> Option<(EmailKind, Part)> {
    EmailKind::ALL.into_iter().find_map(|kind| {
        let suffix = name.strip_prefix(kind.name())?.strip_prefix('.')?;
        let part = Part::ALL.into_iter().find(|part| part.suffix() == suffix)?;
        Some((kind, part))
    })
}

impl EmailTemplates {
    /// Every file an operator may override, `{kind}.subject.txt`,
    /// `{kind}.txt` and `{kind}.html` for each kind.
    pub const FILE_NAMES: &'static [&'static str] = BUILT_IN_NAMES;

    /// The templates Latch ships with.
    pub fn built_in() -> Self {
        Self::from_sources(&BTreeMap::new())
    }

    /// Replaces built-in files by `files` (file name → contents), checked here.
    ///
    /// # Errors
    /// The first file that is not a template Latch uses, is given twice, is
    /// over 64 KiB, has an unknown, unavailable or unclosed placeholder, a
    /// subject of more than one line, or (in an email that carries a link)
    /// text or HTML without `{{link}}`.
    pub fn with_overrides(files: impl IntoIterator<Item = (String, String)>) -> Result<Self, TemplateError> {
        let mut overrides = BTreeMap::new();
        for (file, source) in files {
            let Some((kind, part)) = file_of(&file) else {
                return Err(TemplateError::UnknownFile {
                    file,
                    expected: Self::FILE_NAMES.join(", "),
                });
            };
            Template::check(&file, kind, part, &source)?;
            if overrides.contains_key(&file) {
                return Err(TemplateError::Duplicate { file });
            }
            overrides.insert(file, source);
        }
        Ok(Self::from_sources(&overrides))
    }

    /// The built-in files with `overrides` in their place.
    fn from_sources(overrides: &BTreeMap<String, String>) -> Self {
        let template = |kind: EmailKind, part: Part| {
            let name = format!("{}.{}", kind.name(), part.suffix());
            let source = overrides.get(&name).map(String::as_str).unwrap_or_else(|| {
                BUILT_IN
                    .iter()
                    .find(|(file, _)| *file == name)
                    .map_or("", |(_, source)| source)
            });
            Template::compile(part, source)
        };
        let kinds = EmailKind::ALL.map(|kind| KindTemplates {
            subject: template(kind, Part::Subject),
            text: template(kind, Part::Text),
            html: template(kind, Part::Html),
        });
        Self { kinds }
    }

    /// The `kind` of email to `to`, with `values` filled in: escaped in the
    /// HTML part, on one line in the subject.
    pub fn render(&self, kind: EmailKind, to: &str, values: &TemplateValues<'_>) -> EmailMessage {
        let templates = &self.kinds[kind.index()];
        EmailMessage {
            to: to.to_owned(),
            subject: templates.subject.render(Part::Subject, values),
            text: templates.text.render(Part::Text, values),
            html: templates.html.render(Part::Html, values),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    const FULL: TemplateValues<'static> = TemplateValues {
        link: Some("https://auth.example.com/verify-email?token=abc"),
        email: "ada@example.com",
        new_email: Some("ada@new.example"),
        name: Some("Ada Lovelace"),
        valid_for: Some("24 hours"),
    };

    fn with(files: &[(&str, &str)]) -> Result<EmailTemplates, TemplateError> {
        EmailTemplates::with_overrides(files.iter().map(|(n, s)| ((*n).to_owned(), (*s).to_owned())))
    }

    fn refused(files: &[(&str, &str)]) -> TemplateError {
        match with(files) {
            Err(err) => err,
            Ok(_) => panic!("accepted: {files:?}"),
        }
    }

    #[test]
    fn every_built_in_passes_the_checks_an_override_gets() {
        for (file, source) in BUILT_IN {
            let (kind, part) = file_of(file).unwrap();
            Template::check(file, kind, part, source).unwrap();
        }
        // And so loading them all as overrides works too.
        with(BUILT_IN).unwrap();
    }

    #[test]
    fn file_names_are_every_kind_times_every_part() {
        assert_eq!(
            EmailTemplates::FILE_NAMES.len(),
            EmailKind::ALL.len() * Part::ALL.len()
        );
        for kind in EmailKind::ALL {
            for part in Part::ALL {
                let name = format!("{}.{}", kind.name(), part.suffix());
                assert!(EmailTemplates::FILE_NAMES.contains(&name.as_str()), "{name}");
                assert_eq!(file_of(&name), Some((kind, part)));
            }
        }
    }

    #[test]
    fn each_built_in_renders_with_every_placeholder_filled() {
        let templates = EmailTemplates::built_in();
        for kind in EmailKind::ALL {
            let message = templates.render(kind, "to@example.com", &FULL);
            assert_eq!(message.to, "to@example.com");
            for (part, text) in [
                ("subject", &message.subject),
                ("text", &message.text),
                ("html", &message.html),
            ] {
                assert!(!text.is_empty(), "{kind} {part}");
                assert!(
                    !text.contains("{{") && !text.contains("}}"),
                    "{kind} {part}: {text}"
                );
            }
            assert!(!message.subject.contains('\n'), "{kind}: {:?}", message.subject);
            assert!(message.text.contains("ada@example.com"), "{kind}");
            if kind.carries_link() {
                assert!(message.text.contains(FULL.link.unwrap()), "{kind}");
                assert!(message.html.contains(FULL.link.unwrap()), "{kind}");
                assert!(message.text.contains("24 hours"), "{kind}");
            }
        }
    }

    #[test]
    fn the_email_change_emails_name_both_addresses() {
        let templates = EmailTemplates::built_in();
        for kind in [EmailKind::ChangeEmail, EmailKind::EmailChangeNotice] {
            let message = templates.render(kind, "x@example.com", &FULL);
            for text in [&message.text, &message.html] {
                assert!(
                    text.contains("ada@example.com") && text.contains("ada@new.example"),
                    "{kind}"
                );
            }
        }
        let notice = templates.render(EmailKind::EmailChangeNotice, "ada@example.com", &FULL);
        assert!(!notice.text.contains("token="), "the notice carries no link");
        assert!(notice.text.contains("reset your password"), "{}", notice.text);
    }

    #[test]
    fn built_in_html_loads_nothing_from_the_network() {
        for (file, source) in BUILT_IN.iter().filter(|(file, _)| file.ends_with(".html")) {
            for remote in [
                "http://", "https://", "src=", "<link", "@import", "url(", "<script",
            ] {
                assert!(!source.contains(remote), "{file} contains {remote}");
            }
        }
    }

    #[test]
    fn the_name_falls_back_to_the_email() {
        let templates = EmailTemplates::built_in();
        let values = TemplateValues { name: None, ..FULL };
        let message = templates.render(EmailKind::VerifyEmail, "ada@example.com", &values);
        assert!(
            message.text.starts_with("Hello ada@example.com,"),
            "{}",
            message.text
        );
    }

    #[test]
    fn html_values_are_escaped_and_text_values_are_not() {
        let templates = with(&[
            ("verify_email.txt", "{{name}} {{link}}"),
            ("verify_email.html", "<p>{{name}}</p><a href=\"{{link}}\">go</a>"),
        ])
        .unwrap();
        let values = TemplateValues {
            name: Some("<b>\"Ada\" & 'Bob'</b>"),
            link: Some("https://a.example/?x=1&y=\"2\""),
            ..FULL
        };
        let message = templates.render(EmailKind::VerifyEmail, "ada@example.com", &values);
        assert_eq!(
            message.html,
            "<p>&lt;b&gt;&quot;Ada&quot; &amp; &#39;Bob&#39;&lt;/b&gt;</p>\
             <a href=\"https://a.example/?x=1&amp;y=&quot;2&quot;\">go</a>"
        );
        assert_eq!(
            message.text,
            "<b>\"Ada\" & 'Bob'</b> https://a.example/?x=1&y=\"2\""
        );
    }

    #[test]
    fn line_breaks_in_subject_values_become_spaces() {
        let templates = with(&[("verify_email.subject.txt", "Hi {{name}}\n")]).unwrap();
        let values = TemplateValues {
            name: Some("Ada\r\nBcc: eve@example.com\nX"),
            ..FULL
        };
        let message = templates.render(EmailKind::VerifyEmail, "ada@example.com", &values);
        assert_eq!(message.subject, "Hi Ada  Bcc: eve@example.com X");
    }

    #[test]
    fn an_overridden_file_wins_and_the_others_stay_built_in() {
        let templates = with(&[
            ("reset_password.subject.txt", "Your {{ name }} reset\n"),
            ("reset_password.txt", "Go to {{link}} within {{valid_for}}."),
        ])
        .unwrap();
        let message = templates.render(EmailKind::ResetPassword, "ada@example.com", &FULL);
        assert_eq!(message.subject, "Your Ada Lovelace reset");
        assert_eq!(
            message.text,
            "Go to https://auth.example.com/verify-email?token=abc within 24 hours."
        );
        let built_in = EmailTemplates::built_in();
        let original = built_in.render(EmailKind::ResetPassword, "ada@example.com", &FULL);
        assert_eq!(message.html, original.html);
        assert_eq!(
            templates.render(EmailKind::VerifyEmail, "ada@example.com", &FULL),
            built_in.render(EmailKind::VerifyEmail, "ada@example.com", &FULL)
        );
    }

    #[test]
    fn an_unknown_file_is_refused_by_name() {
        let err = refused(&[("verify_email.htm", "{{link}}")]);
        assert!(matches!(&err, TemplateError::UnknownFile { file, .. } if file == "verify_email.htm"));
        assert!(err.to_string().contains("verify_email.html"), "{err}");
        for name in [
            "welcome.txt",
            "verify_email",
            ".verify_email.txt",
            "verify_email.txt~",
        ] {
            assert!(
                matches!(refused(&[(name, "{{link}}")]), TemplateError::UnknownFile { .. }),
                "{name}"
            );
        }
    }

    #[test]
    fn the_same_file_twice_is_refused() {
        let err = refused(&[("test_email.txt", "a"), ("test_email.txt", "b")]);
        assert!(matches!(err, TemplateError::Duplicate { file } if file == "test_email.txt"));
    }

    #[test]
    fn an_unknown_placeholder_is_refused_with_its_line() {
        let err = refused(&[("verify_email.txt", "Hi\n\n{{link}} {{ token }}")]);
        match &err {
            TemplateError::UnknownPlaceholder { file, line, name, .. } => {
                assert_eq!(
                    (file.as_str(), *line, name.as_str()),
                    ("verify_email.txt", 3, "token")
                );
            }
            other => panic!("{other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("verify_email.txt, line 3"), "{message}");
        assert!(
            message.contains("{{token}}") && message.contains("{{valid_for}}"),
            "{message}"
        );
    }

    #[test]
    fn a_placeholder_the_kind_does_not_have_is_refused() {
        for (file, source) in [
            ("email_change_notice.txt", "{{link}}"),
            ("email_change_notice.html", "{{valid_for}}"),
            ("test_email.subject.txt", "{{new_email}}"),
            ("verify_email.html", "{{link}} {{new_email}}"),
        ] {
            match refused(&[(file, source)]) {
                TemplateError::NotAllowed { file: named, .. } => assert_eq!(named, file),
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_unclosed_placeholder_is_refused() {
        let err = refused(&[("test_email.html", "<p>\n{{email}} {{name</p>")]);
        assert!(
            matches!(&err, TemplateError::Unclosed { file, line: 2 } if file == "test_email.html"),
            "{err:?}"
        );
        // A lone closing pair is text.
        with(&[("test_email.txt", "a }} b")]).unwrap();
    }

    #[test]
    fn a_file_over_64_kib_is_refused() {
        let big = format!("{{{{link}}}}{}", "x".repeat(MAX_FILE_BYTES));
        let err = refused(&[("verify_email.html", &big)]);
        assert!(matches!(err, TemplateError::TooLarge { file, .. } if file == "verify_email.html"));
        let fits = format!("{{{{link}}}}{}", "x".repeat(MAX_FILE_BYTES - 8));
        with(&[("verify_email.html", &fits)]).unwrap();
    }

    #[test]
    fn a_link_email_without_its_link_is_refused() {
        for file in [
            "verify_email.txt",
            "verify_email.html",
            "reset_password.txt",
            "reset_password.html",
            "change_email.txt",
            "change_email.html",
        ] {
            match refused(&[(file, "Hello {{name}}")]) {
                TemplateError::MissingLink { file: named } => assert_eq!(named, file),
                other => panic!("{file}: {other:?}"),
            }
        }
        // Subjects need no link, and the notice and the test email have none.
        with(&[
            ("verify_email.subject.txt", "Confirm"),
            ("email_change_notice.txt", "Changing to {{new_email}}"),
            ("test_email.html", "<p>Test</p>"),
        ])
        .unwrap();
    }

    #[test]
    fn a_subject_is_one_line() {
        let err = refused(&[("test_email.subject.txt", "Test\nBcc: eve@example.com\n")]);
        assert!(matches!(err, TemplateError::MultilineSubject { file } if file == "test_email.subject.txt"));
        let templates = with(&[("test_email.subject.txt", "  Test {{email}}\r\n")]).unwrap();
        let message = templates.render(EmailKind::TestEmail, "ada@example.com", &FULL);
        assert_eq!(message.subject, "Test ada@example.com");
    }

    #[test]
    fn scanning_finds_placeholders_and_their_lines() {
        assert_eq!(
            scan("a\n{{ x }}b{{y\n}}c{{"),
            vec![
                Token::Literal("a\n"),
                Token::Placeholder("x", 2),
                Token::Literal("b"),
                Token::Placeholder("y", 2),
                Token::Literal("c"),
                Token::Unclosed("{{", 3),
            ]
        );
    }
}
