//! Splits one line of a scenario into tokens: bare words, quoted strings
//! and the punctuation `,` `:` `<` `(` `)` `{` `}`, each with its column.

use super::Pos;

/// The characters that are tokens of their own.
const PUNCT: &[char] = &[',', ':', '<', '(', ')', '{', '}'];

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A run of characters up to whitespace, punctuation, `"` or `#` (a
    /// `${NAME}` inside it is kept whole, braces included).
    Word(String),
    /// A double-quoted string, escapes resolved (`\"`, `\\`, `\n`, `\t`).
    Str(String),
    /// One of `,` `:` `<` `(` `)` `{` `}`.
    Punct(char),
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Punct(c) => format!("`{c}`"),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

fn unterminated(at: Pos) -> (Pos, String) {
    (at, "unterminated string (missing closing `\"`)".into())
}

/// Tokenizes `text` (line `line`); a `#` outside a string starts a comment.
/// Errors carry their column.
///
/// A string is reported unterminated at its opening quote, also when its
/// missing closing quote is only visible later: a "closing" quote directly
/// followed by a word (`"a < "b"`) is really the opening quote of the next
/// string, so the string before it is the one left open.
pub(crate) fn line(text: &str, line: usize) -> Result<Vec<Token>, (Pos, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| Pos { line, col: i + 1 };
    let ends_word = |c: char| c.is_whitespace() || PUNCT.contains(&c) || c == '"' || c == '#';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if PUNCT.contains(&c) {
            out.push(Token {
                tok: Tok::Punct(c),
                pos: at(i),
            });
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err(unterminated(at(start)));
                };
                i += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let esc = chars.get(i).copied();
                        i += 1;
                        s.push(match esc {
                            Some('"') => '"',
                            Some('\\') => '\\',
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(other) => {
                                return Err((
                                    at(i - 2),
                                    format!(
                                        "unknown escape `\\{other}` in string (escapes: `\\\"`, `\\\\`, `\\n`, `\\t`)"
                                    ),
                                ));
                            }
                            None => return Err(unterminated(at(start))),
                        });
                    }
                    c => s.push(c),
                }
            }
            if let Some(&next) = chars.get(i)
                && !ends_word(next)
            {
                // `"a < "b"`: the quote before `b` opens a string, so the
                // one that started at `start` was never closed.
                if chars[i..].contains(&'"') {
                    return Err(unterminated(at(start)));
                }
                return Err((
                    at(i),
                    format!("expected a space after the string, found `{next}`"),
                ));
            }
            out.push(Token {
                tok: Tok::Str(s),
                pos: at(start),
            });
        } else {
            let start = i;
            while i < chars.len() && !ends_word(chars[i]) {
                if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                    match chars[i..].iter().position(|&c| c == '}') {
                        Some(close) => i += close,
                        None => {
                            return Err((at(i), "`${` without its closing `}`".into()));
                        }
                    }
                }
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(chars[start..i].iter().collect()),
                pos: at(start),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(Tok, usize)> {
        line(text, 1)
            .unwrap()
            .into_iter()
            .map(|t| (t.tok, t.pos.col))
            .collect()
    }

    #[test]
    fn words_strings_punctuation_and_comments() {
        assert_eq!(
            words(r#"jit f: enter, call log "a \"b\"" # comment"#),
            vec![
                (Tok::Word("jit".into()), 1),
                (Tok::Word("f".into()), 5),
                (Tok::Punct(':'), 6),
                (Tok::Word("enter".into()), 8),
                (Tok::Punct(','), 13),
                (Tok::Word("call".into()), 15),
                (Tok::Word("log".into()), 20),
                (Tok::Str("a \"b\"".into()), 24),
            ]
        );
        assert_eq!(words("  # only a comment"), vec![]);
        assert_eq!(words(r##""a # b""##), vec![(Tok::Str("a # b".into()), 1)]);
        assert_eq!(
            words("repeat 2 {"),
            vec![
                (Tok::Word("repeat".into()), 1),
                (Tok::Word("2".into()), 8),
                (Tok::Punct('{'), 10),
            ]
        );
        assert_eq!(
            words("x (m) c${i}x"),
            vec![
                (Tok::Word("x".into()), 1),
                (Tok::Punct('('), 3),
                (Tok::Word("m".into()), 4),
                (Tok::Punct(')'), 5),
                (Tok::Word("c${i}x".into()), 7),
            ]
        );
        assert_eq!(
            words(r#""a","b":"c"<"d")"#).len(),
            8,
            "punctuation may follow a string directly"
        );
    }

    #[test]
    fn bad_strings_name_their_column() {
        let err = |text: &str| {
            let (pos, msg) = line(text, 3).unwrap_err();
            (pos.col, msg)
        };
        let open = "unterminated string (missing closing `\"`)".to_owned();
        assert_eq!(err(r#"x "abc"#), (3, open.clone()));
        assert_eq!(err(r#"x "abc\"#), (3, open.clone()));
        // The quote before `b` opens the next string: the first one is open.
        assert_eq!(err(r#"order "a < "b""#), (7, open.clone()));
        assert_eq!(err(r#"order "a" < "b < "c""#), (13, open.clone()));
        assert_eq!(err(r#"fail "oops # the "real" reason"#), (6, open));
        assert_eq!(
            err(r#"str "abc"def"#),
            (10, "expected a space after the string, found `d`".into())
        );
        let (col, msg) = err(r#"x "a\qb""#);
        assert_eq!(col, 5);
        assert!(msg.starts_with("unknown escape `\\q`"), "{msg}");
        assert_eq!(err("c${i"), (2, "`${` without its closing `}`".into()));
    }
}
