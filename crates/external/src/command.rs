//! A command line with placeholders (`{train}`, `{seed}`, …): split into
//! words once, as a POSIX shell would split it (quotes and backslashes), and
//! each placeholder replaced inside its word. A value with spaces, quotes or
//! `;` stays one argument, and no value is ever read by a shell. A literal
//! brace is written twice (`{{`, `}}`).

/// Why a command line is refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Nothing to run.
    #[error("the command is empty")]
    Empty,
    /// A quote is not closed, or the line ends in a backslash.
    #[error("an unclosed quote or a trailing backslash")]
    Unbalanced,
    /// A brace has no pair.
    #[error("{word:?}: a brace without its pair (write {{{{ or }}}} for a literal brace)")]
    Brace {
        /// The word.
        word: String,
    },
    /// A placeholder this command does not have.
    #[error("{{{name}}} is not a placeholder of this command; it has {known}")]
    Unknown {
        /// The placeholder's name.
        name: String,
        /// The ones it has, in words.
        known: String,
    },
}

/// A piece of a word: text as written, or a placeholder.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Hole(String),
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandLine {
    text: String,
    words: Vec<Vec<Piece>>,
}

impl CommandLine {
    /// Parses `text`, whose placeholders must be among `placeholders`.
    pub fn parse(text: &str, placeholders: &[&str]) -> Result<CommandLine, LineError> {
        let split = shlex::split(text).ok_or(LineError::Unbalanced)?;
        if split.is_empty() {
            return Err(LineError::Empty);
        }
        let words = split
            .iter()
            .map(|word| pieces(word, placeholders))
            .collect::<Result<_, _>>()?;
        Ok(CommandLine {
            text: text.to_string(),
            words,
        })
    }

    /// The line as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The words to run, each placeholder replaced by its value in `values`
    /// (a placeholder without one is left empty).
    pub fn fill(&self, values: &[(&str, &str)]) -> Vec<String> {
        self.words
            .iter()
            .map(|word| {
                word.iter()
                    .map(|piece| match piece {
                        Piece::Text(text) => text.as_str(),
                        Piece::Hole(name) => values
                            .iter()
                            .find(|(key, _)| key == name)
                            .map_or("", |(_, value)| value),
                    })
                    .collect()
            })
            .collect()
    }
}

/// The pieces of one word: its text and its placeholders.
fn pieces(word: &str, placeholders: &[&str]) -> Result<Vec<Piece>, LineError> {
    let brace = || LineError::Brace {
        word: word.to_string(),
    };
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed || name.is_empty() || name.contains('{') {
                    return Err(brace());
                }
                if !placeholders.contains(&name.as_str()) {
                    let known: Vec<String> =
                        placeholders.iter().map(|p| format!("{{{p}}}")).collect();
                    return Err(LineError::Unknown {
                        name,
                        known: known.join(", "),
                    });
                }
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Hole(name));
            }
            '}' => return Err(brace()),
            c => text.push(c),
        }
    }
    if !text.is_empty() || out.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLES: [&str; 3] = ["train", "out", "seed"];

    #[test]
    fn values_are_filled_inside_their_words_and_stay_one_argument() {
        let line = CommandLine::parse(
            "python 'my model.py' train --data={train} --out {out} --seed {seed} --tag x{seed}y '{{literal}}'",
            &HOLES,
        )
        .unwrap();
        let words = line.fill(&[
            ("train", "/data/set one; rm -rf ~.npy"),
            ("out", "it's \"here\""),
            ("seed", "7"),
        ]);
        assert_eq!(
            words,
            [
                "python",
                "my model.py",
                "train",
                "--data=/data/set one; rm -rf ~.npy",
                "--out",
                "it's \"here\"",
                "--seed",
                "7",
                "--tag",
                "x7y",
                "{literal}",
            ]
        );
    }

    #[test]
    fn bad_lines_are_refused_in_words() {
        let err = |text: &str| CommandLine::parse(text, &HOLES).unwrap_err().to_string();
        assert_eq!(err(""), "the command is empty");
        assert_eq!(
            err("python 'unclosed"),
            "an unclosed quote or a trailing backslash"
        );
        assert_eq!(
            err("run {model_dir}"),
            "{model_dir} is not a placeholder of this command; it has {train}, {out}, {seed}"
        );
        assert_eq!(
            err("run {train"),
            "\"{train\": a brace without its pair (write {{ or }} for a literal brace)"
        );
        assert!(err("run x}").starts_with("\"x}\": a brace without its pair"));
        assert!(err("run {}").starts_with("\"{}\": a brace without its pair"));
        assert!(err("run {seed}{train").starts_with("\"{seed}{train\": a brace without its pair"));
    }
}
