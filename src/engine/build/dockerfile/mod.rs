//! The Dockerfile front end: text → stages of typed instructions, each with its line number.
//!
//! Our own, not the `parse-dockerfile` crate: that crate (0.1.9) is well made but leaves out
//! syntax Docker builds every day — here-documents after a command (`RUN cat <<EOF >/f`) or
//! several on one line are a TODO there, and ENV/LABEL/ARG arguments come back as raw text —
//! and variable substitution with Docker's ARG/ENV scoping is out of its scope anyway.
//! `lexer` makes logical lines (directives, continuations, here-documents), `instr` types
//! them, `words` does substitution and quoting; this module groups them into stages and
//! checks references between stages.

pub mod instr;
pub mod lexer;
pub mod words;

pub use instr::{Command, CopySpec, Healthcheck, Instr, Source};
pub use lexer::Heredoc;

/// A Dockerfile error at a line; the builder adds the file name when it reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerfileError {
    pub line: usize,
    pub message: String,
}

impl DockerfileError {
    pub fn at(line: usize, message: impl Into<String>) -> Self {
        DockerfileError {
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One instruction with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub line: usize,
    pub instr: Instr,
    /// `KEYWORD args` as written (continuations joined), for history and progress.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// The FROM step; its `Instr::From` holds the (unsubstituted) base.
    pub from: Step,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    pub escape: char,
    /// `# syntax=` is accepted and ignored: wharf has one frontend.
    pub syntax: Option<String>,
    /// ARGs before the first FROM: visible in FROM lines and to `ARG NAME` in stages.
    pub global_args: Vec<Step>,
    pub stages: Vec<Stage>,
}

/// Parse a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    let lexed = lexer::lex(text)?;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for l in &lexed.lines {
        let instr =
            instr::parse_line(l, lexed.escape).map_err(|m| DockerfileError::at(l.line, m))?;
        let step = Step {
            line: l.line,
            text: format!("{} {}", l.keyword.to_ascii_uppercase(), l.rest)
                .trim_end()
                .to_string(),
            instr,
        };
        match (&step.instr, stages.last_mut()) {
            (Instr::From { name, .. }, _) => {
                if let Some(n) = name {
                    if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                        return Err(DockerfileError::at(
                            l.line,
                            format!("duplicate stage name {n:?}"),
                        ));
                    }
                    if n.parse::<usize>().is_ok() {
                        return Err(DockerfileError::at(
                            l.line,
                            format!("stage name {n:?} cannot be a number"),
                        ));
                    }
                }
                stages.push(Stage {
                    index: stages.len(),
                    name: name.clone(),
                    from: step,
                    steps: Vec::new(),
                });
            }
            (Instr::Arg(_), None) => global_args.push(step),
            (_, None) => {
                return Err(DockerfileError::at(
                    l.line,
                    format!(
                        "{} before the first FROM: only ARG may come before FROM",
                        l.keyword.to_ascii_uppercase()
                    ),
                ))
            }
            (_, Some(stage)) => stage.steps.push(step),
        }
    }
    if stages.is_empty() {
        return Err(DockerfileError::at(
            lexed.lines.last().map(|l| l.line).unwrap_or(1),
            "the Dockerfile has no FROM instruction",
        ));
    }
    Ok(Dockerfile {
        escape: lexed.escape,
        syntax: lexed.syntax,
        global_args,
        stages,
    })
}

impl Dockerfile {
    /// The stage a `--target`, `--from` or `FROM` names: a stage name or an index.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_global_args() {
        let d = parse(
            "ARG V=1\nFROM busybox:${V} AS base\nRUN true\n\nFROM base\nCOPY --from=base /a /b\n",
        )
        .unwrap();
        assert_eq!(d.global_args.len(), 1);
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stages[0].name.as_deref(), Some("base"));
        assert_eq!(d.stages[0].steps[0].line, 3);
        assert_eq!(d.stages[1].from.line, 5);
        assert_eq!(d.stage_index("BASE"), Some(0));
        assert_eq!(d.stage_index("1"), Some(1));
        assert_eq!(d.stage_index("2"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("FROM a\n\nRUNN x\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("did you mean RUN"));
        assert_eq!(parse("RUN x\nFROM a").unwrap_err().line, 1);
        assert!(parse("# only a comment\n").is_err());
        let dup = parse("FROM a AS x\nFROM b AS x\n").unwrap_err();
        assert_eq!(dup.line, 2);
        assert_eq!(parse("FROM a\nCOPY --bogus=1 a b\n").unwrap_err().line, 2);
    }

    #[test]
    fn step_text_joins_continuations() {
        let d = parse("FROM a\nrun echo 1 \\\n  && echo 2\n").unwrap();
        assert_eq!(d.stages[0].steps[0].text, "RUN echo 1   && echo 2");
    }
}
