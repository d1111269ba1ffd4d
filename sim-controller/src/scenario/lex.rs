//! Splits one line of a scenario into tokens: bare words, quoted strings
//! and the punctuation `,` `:` `<`, each with its column.

use super::Pos;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A run of characters up to whitespace, `,`, `:`, `<`, `"` or `#`.
    Word(String),
    /// A double-quoted string, escapes resolved (`\"`, `\\`, `\n`, `\t`).
    Str(String),
    /// `,` `:` or `<`.
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

/// Tokenizes `text` (line `line`); a `#` outside a string starts a comment.
/// Errors carry their column.
pub(crate) fn line(text: &str, line: usize) -> Result<Vec<Token>, (Pos, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| Pos { line, col: i + 1 };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == ',' || c == ':' || c == '<' {
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
                    return Err((at(start), "unterminated string".into()));
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
                                    format!("unknown escape `\\{other}` in string"),
                                ));
                            }
                            None => return Err((at(start), "unterminated string".into())),
                        });
                    }
                    c => s.push(c),
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                pos: at(start),
            });
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], ',' | ':' | '<' | '"' | '#')
            {
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
    }

    #[test]
    fn bad_strings_name_their_column() {
        assert_eq!(line(r#"x "abc"#, 3).unwrap_err().0, Pos { line: 3, col: 3 });
        let (pos, msg) = line(r#"x "a\qb""#, 1).unwrap_err();
        assert_eq!(pos.col, 5);
        assert!(msg.contains("unknown escape"));
    }
}
