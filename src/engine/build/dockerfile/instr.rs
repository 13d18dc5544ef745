//! Logical lines → typed instructions, checked as Docker checks them: the flags each
//! instruction accepts, argument counts, exec (JSON) versus shell form. Values are kept
//! unsubstituted: variables are expanded when the builder reaches the step, with the ARG and
//! ENV values in scope there.

use super::lexer::{Heredoc, LogicalLine};
use super::words::{arg_decls, name_values, raw_words};

/// `["a", "b"]` or `a b` (run by the stage's shell).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// A `--name[=value]` flag as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopySpec {
    pub sources: Vec<Source>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Healthcheck {
    None,
    Cmd { flags: Vec<Flag>, test: Command },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Instr {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        mounts: Vec<String>,
        network: Option<String>,
        command: Command,
        heredocs: Vec<Heredoc>,
    },
    Copy(CopySpec),
    Add(CopySpec),
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Cmd(Command),
    Entrypoint(Command),
    Volume(Vec<String>),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Stopsignal(String),
    Onbuild(String),
    Maintainer(String),
}

pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Leading `--flag[=value]` words, then the remaining text.
fn split_flags(rest: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    while let Some(body) = s.strip_prefix("--") {
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (word.to_string(), None),
        };
        flags.push(Flag { name, value });
        s = body[end..].trim_start();
    }
    (flags, s)
}

fn check_flags(keyword: &str, flags: &[Flag], allowed: &[&str]) -> Result<(), String> {
    for f in flags {
        if !allowed.contains(&f.name.as_str()) {
            let hint = if allowed.is_empty() {
                format!("{keyword} takes no flags")
            } else {
                format!(
                    "{keyword} accepts {}",
                    allowed
                        .iter()
                        .map(|a| format!("--{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(format!("unknown flag: --{} ({hint})", f.name));
        }
    }
    Ok(())
}

fn flag(flags: &[Flag], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find(|f| f.name == name)
        .map(|f| f.value.clone().unwrap_or_default())
}

fn json_array(text: &str) -> Option<Vec<String>> {
    let t = text.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn command(text: &str) -> Command {
    match json_array(text) {
        Some(v) => Command::Exec(v),
        None => Command::Shell(text.to_string()),
    }
}

fn one_arg(keyword: &str, rest: &str) -> Result<String, String> {
    if rest.is_empty() {
        return Err(format!("{keyword} requires exactly one argument"));
    }
    Ok(rest.to_string())
}

fn copy_spec(
    keyword: &str,
    flags: &[Flag],
    rest: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<CopySpec, String> {
    let mut allowed = vec!["from", "chown", "chmod", "link"];
    if keyword == "ADD" {
        allowed.extend(["checksum", "keep-git-dir"]);
        allowed.retain(|f| *f != "from");
    }
    for refused in ["parents", "exclude"] {
        if flags.iter().any(|f| f.name == refused) {
            return Err(format!(
                "{keyword} --{refused} is not supported by wharf's builder (a BuildKit labs feature)"
            ));
        }
    }
    check_flags(keyword, flags, &allowed)?;
    let words = json_array(rest).unwrap_or_else(|| raw_words(rest, escape));
    if words.len() < 2 {
        return Err(format!(
            "{keyword} requires at least two arguments: a source and a destination"
        ));
    }
    let mut docs = heredocs.iter();
    let sources = words[..words.len() - 1]
        .iter()
        .map(|w| {
            let marker = w.strip_prefix("<<").map(|m| m.trim_start_matches('-'));
            match (marker, docs.clone().next()) {
                (Some(m), Some(h)) if m.trim_matches(['\'', '"']) == h.name => {
                    Source::Heredoc(docs.next().cloned().unwrap_or_else(|| h.clone()))
                }
                _ => Source::Path(w.clone()),
            }
        })
        .collect();
    Ok(CopySpec {
        sources,
        dest: words[words.len() - 1].clone(),
        from: flag(flags, "from"),
        chown: flag(flags, "chown"),
        chmod: flag(flags, "chmod"),
        checksum: flag(flags, "checksum"),
    })
}

fn healthcheck(flags: Vec<Flag>, rest: &str) -> Result<Healthcheck, String> {
    check_flags(
        "HEALTHCHECK",
        &flags,
        &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
    )?;
    let (kind, cmd) = match rest.find(char::is_whitespace) {
        Some(p) => (&rest[..p], rest[p..].trim()),
        None => (rest, ""),
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if cmd.is_empty() && flags.is_empty() => Ok(Healthcheck::None),
        "NONE" => Err("HEALTHCHECK NONE takes no other arguments".into()),
        "CMD" if !cmd.is_empty() => Ok(Healthcheck::Cmd {
            flags,
            test: command(cmd),
        }),
        "CMD" => Err("HEALTHCHECK CMD requires a command".into()),
        other => Err(format!(
            "HEALTHCHECK: unknown type {other:?} (expected CMD or NONE)"
        )),
    }
}

/// Interpret one logical line.
pub fn parse_line(l: &LogicalLine, escape: char) -> Result<Instr, String> {
    let keyword = l.keyword.to_ascii_uppercase();
    let takes_flags = matches!(
        keyword.as_str(),
        "FROM" | "RUN" | "COPY" | "ADD" | "HEALTHCHECK"
    );
    let (flags, rest) = if takes_flags {
        split_flags(&l.rest)
    } else {
        (Vec::new(), l.rest.as_str())
    };
    let rest = rest.trim();
    Ok(match keyword.as_str() {
        "FROM" => {
            check_flags("FROM", &flags, &["platform"])?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (image, name) = match words.as_slice() {
                [image] => (image.to_string(), None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (image.to_string(), Some(name.to_ascii_lowercase()))
                }
                _ => return Err("FROM requires either one or three arguments: FROM <image> [AS <name>]".into()),
            };
            Instr::From {
                image,
                name,
                platform: flag(&flags, "platform"),
            }
        }
        "RUN" => {
            check_flags("RUN", &flags, &["mount", "network", "security"])?;
            if let Some(s) = flag(&flags, "security").filter(|s| s != "sandbox") {
                return Err(format!("RUN --security={s} is not supported (only sandbox)"));
            }
            if rest.is_empty() && l.heredocs.is_empty() {
                return Err("RUN requires a command".into());
            }
            Instr::Run {
                mounts: flags
                    .iter()
                    .filter(|f| f.name == "mount")
                    .map(|f| f.value.clone().unwrap_or_default())
                    .collect(),
                network: flag(&flags, "network"),
                command: command(rest),
                heredocs: l.heredocs.clone(),
            }
        }
        "COPY" => Instr::Copy(copy_spec("COPY", &flags, rest, &l.heredocs, escape)?),
        "ADD" => Instr::Add(copy_spec("ADD", &flags, rest, &l.heredocs, escape)?),
        "ENV" => Instr::Env(name_values(rest, escape, "ENV")?),
        "LABEL" => Instr::Label(name_values(rest, escape, "LABEL")?),
        "ARG" => Instr::Arg(arg_decls(rest, escape)?),
        "WORKDIR" => Instr::Workdir(one_arg("WORKDIR", rest)?),
        "USER" => Instr::User(one_arg("USER", rest)?),
        "STOPSIGNAL" => Instr::Stopsignal(one_arg("STOPSIGNAL", rest)?),
        "MAINTAINER" => Instr::Maintainer(one_arg("MAINTAINER", rest)?),
        "EXPOSE" => {
            let ports = raw_words(rest, escape);
            if ports.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            Instr::Expose(ports)
        }
        "CMD" | "ENTRYPOINT" if rest.is_empty() && keyword == "CMD" => {
            return Err("CMD requires at least one argument".into())
        }
        "CMD" => Instr::Cmd(command(rest)),
        "ENTRYPOINT" => Instr::Entrypoint(command(rest)),
        "VOLUME" => {
            let v = json_array(rest).unwrap_or_else(|| raw_words(rest, escape));
            if v.is_empty() || v.iter().any(|p| p.is_empty()) {
                return Err("VOLUME requires at least one non-empty path".into());
            }
            Instr::Volume(v)
        }
        "SHELL" => match json_array(rest) {
            Some(v) if !v.is_empty() => Instr::Shell(v),
            _ => return Err("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/bash\", \"-c\"]".into()),
        },
        "HEALTHCHECK" => Instr::Healthcheck(healthcheck(flags, rest)?),
        "ONBUILD" => {
            let inner = rest.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            match inner.as_str() {
                "" => return Err("ONBUILD requires an instruction".into()),
                "ONBUILD" => return Err("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{inner} isn't allowed as an ONBUILD trigger"))
                }
                _ => {}
            }
            let (kw, inner_rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            parse_line(
                &LogicalLine {
                    line: l.line,
                    keyword: kw.to_string(),
                    rest: inner_rest.trim().to_string(),
                    heredocs: l.heredocs.clone(),
                },
                escape,
            )?;
            Instr::Onbuild(rest.to_string())
        }
        _ => return Err(unknown(&l.keyword)),
    })
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn unknown(keyword: &str) -> String {
    let upper = keyword.to_ascii_uppercase();
    let best = KEYWORDS
        .iter()
        .map(|k| (distance(&upper, k), *k))
        .min()
        .filter(|(d, _)| *d <= 2);
    match best {
        Some((_, k)) => format!("unknown instruction: {keyword} (did you mean {k}?)"),
        None => format!(
            "unknown instruction: {keyword} (instructions are {})",
            KEYWORDS.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Instr, String> {
        let (kw, rest) = text.split_once(' ').unwrap_or((text, ""));
        parse_line(
            &LogicalLine {
                line: 1,
                keyword: kw.into(),
                rest: rest.into(),
                heredocs: vec![],
            },
            '\\',
        )
    }

    #[test]
    fn from_forms() {
        assert_eq!(
            p("FROM --platform=linux/amd64 busybox AS Build").unwrap(),
            Instr::From {
                image: "busybox".into(),
                name: Some("build".into()),
                platform: Some("linux/amd64".into())
            }
        );
        assert!(p("FROM a b").is_err());
        assert!(p("FROM --plat=x a").unwrap_err().contains("--platform"));
    }

    #[test]
    fn exec_and_shell_forms() {
        assert_eq!(
            p("CMD [\"a\", \"b c\"]").unwrap(),
            Instr::Cmd(Command::Exec(vec!["a".into(), "b c".into()]))
        );
        assert_eq!(
            p("CMD [not json").unwrap(),
            Instr::Cmd(Command::Shell("[not json".into()))
        );
        assert_eq!(
            p("ENTRYPOINT echo hi").unwrap(),
            Instr::Entrypoint(Command::Shell("echo hi".into()))
        );
        assert!(p("SHELL sh -c").is_err());
    }

    #[test]
    fn run_flags() {
        let Instr::Run {
            mounts, network, ..
        } = p("RUN --mount=type=cache,target=/c --network=none --mount=type=tmpfs,target=/t true")
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(mounts, vec!["type=cache,target=/c", "type=tmpfs,target=/t"]);
        assert_eq!(network.as_deref(), Some("none"));
        assert!(p("RUN --foo true")
            .unwrap_err()
            .contains("unknown flag: --foo"));
    }

    #[test]
    fn copy_and_add() {
        let Instr::Copy(c) = p("COPY --from=build --chown=1:2 --chmod=640 a b* /dst/").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(c.chown.as_deref(), Some("1:2"));
        assert_eq!(c.dest, "/dst/");
        assert_eq!(c.sources.len(), 2);
        assert!(p("COPY a").is_err());
        assert!(p("ADD --from=x a b").is_err());
        assert!(p("COPY --parents a b")
            .unwrap_err()
            .contains("not supported"));
        let Instr::Copy(j) = p("COPY [\"a b\", \"/c\"]").unwrap() else {
            panic!()
        };
        assert_eq!(j.sources, vec![Source::Path("a b".into())]);
    }

    #[test]
    fn copy_heredoc_source() {
        let l = LogicalLine {
            line: 1,
            keyword: "COPY".into(),
            rest: "<<EOF /f".into(),
            heredocs: vec![Heredoc {
                name: "EOF".into(),
                expand: true,
                body: "x\n".into(),
            }],
        };
        let Instr::Copy(c) = parse_line(&l, '\\').unwrap() else {
            panic!()
        };
        assert!(matches!(&c.sources[0], Source::Heredoc(h) if h.body == "x\n"));
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(
            p("HEALTHCHECK NONE").unwrap(),
            Instr::Healthcheck(Healthcheck::None)
        );
        let Instr::Healthcheck(Healthcheck::Cmd { flags, test }) =
            p("HEALTHCHECK --interval=5s --start-interval=1s CMD [\"true\"]").unwrap()
        else {
            panic!()
        };
        assert_eq!(flags.len(), 2);
        assert_eq!(test, Command::Exec(vec!["true".into()]));
        assert!(p("HEALTHCHECK --bogus=1 CMD true").is_err());
        assert!(p("HEALTHCHECK WHAT").is_err());
    }

    #[test]
    fn onbuild_is_checked_and_kept_as_text() {
        assert_eq!(
            p("ONBUILD RUN echo hi").unwrap(),
            Instr::Onbuild("RUN echo hi".into())
        );
        assert!(p("ONBUILD ONBUILD RUN x").is_err());
        assert!(p("ONBUILD FROM x").is_err());
        assert!(p("ONBUILD RUNN x").is_err());
    }

    #[test]
    fn unknown_instruction_hints() {
        assert!(p("RUNN x").unwrap_err().contains("did you mean RUN?"));
        assert!(p("COPPY a b").unwrap_err().contains("did you mean COPY?"));
        assert!(p("BANANA x").unwrap_err().contains("instructions are"));
    }

    #[test]
    fn other_instructions() {
        assert_eq!(
            p("EXPOSE 80 53/udp").unwrap(),
            Instr::Expose(vec!["80".into(), "53/udp".into()])
        );
        assert_eq!(
            p("VOLUME [\"/a\", \"/b\"]").unwrap(),
            Instr::Volume(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(p("WORKDIR /w").unwrap(), Instr::Workdir("/w".into()));
        assert!(p("WORKDIR").is_err());
        assert_eq!(
            p("ARG A=1 B").unwrap(),
            Instr::Arg(vec![("A".into(), Some("1".into())), ("B".into(), None)])
        );
    }
}
