//! Reads the kernel entry points (`.entry NAME(.param .TYPE NAME_param_N, …)`) out of PTX text,
//! the assembly NVRTC writes before the GPU binary, so that the parameters NVRTC compiled can be
//! compared with the signatures Rust declares. Plain string parsing of the one construct needed;
//! it never fails: what it cannot read is returned as a problem next to what it could.

/// The type of one `.param` of an entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PtxType {
    /// `.uN`
    Unsigned(u32),
    /// `.sN`
    Signed(u32),
    /// `.bN`: untyped bits.
    Bits(u32),
    /// `.fN`
    Float(u32),
    /// `.pred`
    Predicate,
    /// `.align A .b8 NAME[BYTES]`: a struct passed by value.
    ByteArray { align: Option<u32>, bytes: u32 },
    /// Any other spelling, kept as written.
    Other(String),
}

impl std::fmt::Display for PtxType {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PtxType::Unsigned(bits) => write!(formatter, ".u{bits}"),
            PtxType::Signed(bits) => write!(formatter, ".s{bits}"),
            PtxType::Bits(bits) => write!(formatter, ".b{bits}"),
            PtxType::Float(bits) => write!(formatter, ".f{bits}"),
            PtxType::Predicate => formatter.write_str(".pred"),
            PtxType::ByteArray {
                align: Some(align),
                bytes,
            } => write!(formatter, ".align {align} .b8 [{bytes}]"),
            PtxType::ByteArray { align: None, bytes } => write!(formatter, ".b8 [{bytes}]"),
            PtxType::Other(spelling) => formatter.write_str(spelling),
        }
    }
}

/// One parameter of an entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxParameter {
    pub name: String,
    pub parameter_type: PtxType,
}

/// One kernel entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxEntry {
    pub name: String,
    pub parameters: Vec<PtxParameter>,
}

/// Every entry point of a PTX module, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PtxEntries {
    pub entries: Vec<PtxEntry>,
    pub problems: Vec<String>,
}

const ENTRY_DIRECTIVE: &str = ".entry";

/// Every `.entry` of `ptx`, with its parameters in order.
pub fn parse_entries(ptx: &str) -> PtxEntries {
    let text = without_comments(ptx);
    let mut parsed = PtxEntries::default();
    let mut rest = text.as_str();
    while let Some(found) = find_directive(rest, ENTRY_DIRECTIVE) {
        rest = rest[found + ENTRY_DIRECTIVE.len()..].trim_start();
        let name_end = rest
            .find(|character: char| {
                character == '(' || character == '{' || character.is_whitespace()
            })
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_owned();
        rest = rest[name_end..].trim_start();
        if name.is_empty() {
            parsed
                .problems
                .push("an `.entry` directive has no name".to_owned());
            continue;
        }
        let mut parameters = Vec::new();
        if let Some(after_parenthesis) = rest.strip_prefix('(') {
            let Some(close) = after_parenthesis.find(')') else {
                parsed.problems.push(format!(
                    "the parameter list of `.entry {name}` is not closed"
                ));
                break;
            };
            let list = &after_parenthesis[..close];
            rest = &after_parenthesis[close + 1..];
            for (index, declaration) in list
                .split(',')
                .map(str::trim)
                .filter(|declaration| !declaration.is_empty())
                .enumerate()
            {
                match parse_parameter(declaration) {
                    Ok(parameter) => parameters.push(parameter),
                    Err(problem) => {
                        parsed.problems.push(format!(
                            "parameter {index} of `.entry {name}` (`{declaration}`): {problem}"
                        ));
                        parameters.push(PtxParameter {
                            name: String::new(),
                            parameter_type: PtxType::Other(declaration.to_owned()),
                        });
                    }
                }
            }
        }
        parsed.entries.push(PtxEntry { name, parameters });
    }
    parsed
}

/// The byte offset of `directive` as a whole word (not a prefix of a longer directive).
fn find_directive(text: &str, directive: &str) -> Option<usize> {
    let mut searched = 0;
    while let Some(offset) = text[searched..].find(directive) {
        let start = searched + offset;
        let end = start + directive.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let after_ok = text[end..]
            .chars()
            .next()
            .is_none_or(|character| character.is_whitespace() || character == '(');
        if before_ok && after_ok {
            return Some(start);
        }
        searched = end;
    }
    None
}

/// `ptx` with `// …` and `/* … */` comments replaced by a space.
fn without_comments(ptx: &str) -> String {
    let mut text = String::with_capacity(ptx.len());
    let mut rest = ptx;
    loop {
        let line_comment = rest.find("//");
        let block_comment = rest.find("/*");
        match (line_comment, block_comment) {
            (Some(line), block) if block.is_none_or(|block| line < block) => {
                text.push_str(&rest[..line]);
                text.push(' ');
                rest = rest[line..]
                    .find('\n')
                    .map_or("", |end| &rest[line + end..]);
            }
            (_, Some(block)) => {
                text.push_str(&rest[..block]);
                text.push(' ');
                rest = rest[block + 2..]
                    .find("*/")
                    .map_or("", |end| &rest[block + 2 + end + 2..]);
            }
            (None, None) => {
                text.push_str(rest);
                return text;
            }
            (Some(_), None) => unreachable!("handled by the first arm"),
        }
    }
}

/// One `.param [.align A] .TYPE [.ptr .SPACE .align A] NAME[[BYTES]]` declaration.
fn parse_parameter(declaration: &str) -> Result<PtxParameter, String> {
    let mut tokens = declaration.split_whitespace().peekable();
    if tokens.next() != Some(".param") {
        return Err("it does not start with `.param`".to_owned());
    }
    let mut align = None;
    let mut scalar = None;
    let mut name = None;
    while let Some(token) = tokens.next() {
        match token {
            ".align" => {
                let value = tokens
                    .next()
                    .and_then(|value| value.parse::<u32>().ok())
                    .ok_or_else(|| "`.align` is not followed by a number".to_owned())?;
                // An alignment after the type belongs to the pointee (`.ptr .global .align 4`).
                if scalar.is_none() {
                    align = Some(value);
                }
            }
            ".ptr" | ".global" | ".const" | ".shared" | ".local" => {}
            _ if token.starts_with('.') && scalar.is_none() => scalar = Some(token),
            _ if !token.starts_with('.') && name.is_none() => name = Some(token),
            _ => return Err(format!("unexpected `{token}`")),
        }
    }
    let scalar = scalar.ok_or_else(|| "it has no type".to_owned())?;
    let name = name.ok_or_else(|| "it has no name".to_owned())?;
    let (name, array_bytes) = match name.split_once('[') {
        Some((name, bytes)) => {
            let bytes = bytes
                .strip_suffix(']')
                .and_then(|bytes| bytes.parse::<u32>().ok())
                .ok_or_else(|| format!("`{name}[{bytes}` is not an array of a known size"))?;
            (name, Some(bytes))
        }
        None => (name, None),
    };
    let parameter_type = match array_bytes {
        Some(bytes) if scalar == ".b8" => PtxType::ByteArray { align, bytes },
        Some(_) => PtxType::Other(declaration.trim_start_matches(".param").trim().to_owned()),
        None => scalar_type(scalar),
    };
    Ok(PtxParameter {
        name: name.to_owned(),
        parameter_type,
    })
}

fn scalar_type(spelling: &str) -> PtxType {
    if spelling == ".pred" {
        return PtxType::Predicate;
    }
    let mut characters = spelling.chars();
    let (Some('.'), Some(class)) = (characters.next(), characters.next()) else {
        return PtxType::Other(spelling.to_owned());
    };
    let Ok(bits) = characters.as_str().parse::<u32>() else {
        return PtxType::Other(spelling.to_owned());
    };
    match class {
        'u' => PtxType::Unsigned(bits),
        's' => PtxType::Signed(bits),
        'b' => PtxType::Bits(bits),
        'f' => PtxType::Float(bits),
        _ => PtxType::Other(spelling.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry points as NVRTC 12.9 writes them for sm_80: scalar parameters, a struct passed by
    /// value, launch bounds after the list, an entry without parameters, and comments and a
    /// `.func` that are not entries.
    const NVRTC_PTX: &str = "\
//
// Generated by NVIDIA NVVM Compiler
//
// Compiler Build ID: CL-36037853
// Cuda compilation tools, release 12.9, V12.9.86
// Based on NVVM 7.0.1
//

.version 8.8
.target sm_80
.address_size 64

\t// .globl\tkernel_one
/* .entry commented_out( .param .u32 commented_out_param_0 ) */
.func  (.param .b32 func_retval0) helper(
\t.param .b32 helper_param_0
)
;
.visible .entry kernel_one(
\t.param .u64 kernel_one_param_0,
\t.param .u32 kernel_one_param_1,
\t.param .u64 kernel_one_param_2,
\t.param .f32 kernel_one_param_3,
\t.param .u16 kernel_one_param_4,
\t.param .f64 kernel_one_param_5,
\t.param .align 4 .b8 kernel_one_param_6[16],
\t.param .u64 .ptr .global .align 4 kernel_one_param_7
)
.maxntid 128, 1, 1
{
\tret;
}
\t// .globl\tno_parameters
.visible .entry no_parameters()
{
\tret;
}
";

    fn render(entries: &PtxEntries) -> String {
        let mut lines = Vec::new();
        for entry in &entries.entries {
            let parameters: Vec<String> = entry
                .parameters
                .iter()
                .map(|parameter| format!("{} {}", parameter.parameter_type, parameter.name))
                .collect();
            lines.push(format!("{}({})", entry.name, parameters.join(", ")));
        }
        for problem in &entries.problems {
            lines.push(format!("problem: {problem}"));
        }
        lines.join("\n")
    }

    #[test]
    fn entries_and_their_parameter_types_are_read_in_order() {
        insta::assert_snapshot!(render(&parse_entries(NVRTC_PTX)), @"
        kernel_one(.u64 kernel_one_param_0, .u32 kernel_one_param_1, .u64 kernel_one_param_2, .f32 kernel_one_param_3, .u16 kernel_one_param_4, .f64 kernel_one_param_5, .align 4 .b8 [16] kernel_one_param_6, .u64 kernel_one_param_7)
        no_parameters()
        ");
    }

    #[test]
    fn unreadable_parameters_and_lists_are_problems_not_panics() {
        let broken = "\
.visible .entry odd(
\t.param .u32 odd_param_0,
\t.reg .u32 odd_param_1,
\t.param .b8 odd_param_2[x]
)
{ ret; }
.visible .entry unclosed(
\t.param .u32 unclosed_param_0
";
        insta::assert_snapshot!(render(&parse_entries(broken)), @"
        odd(.u32 odd_param_0, .reg .u32 odd_param_1 , .param .b8 odd_param_2[x] )
        problem: parameter 1 of `.entry odd` (`.reg .u32 odd_param_1`): it does not start with `.param`
        problem: parameter 2 of `.entry odd` (`.param .b8 odd_param_2[x]`): `odd_param_2[x]` is not an array of a known size
        problem: the parameter list of `.entry unclosed` is not closed
        ");
    }

    #[test]
    fn empty_text_has_no_entries() {
        assert_eq!(parse_entries(""), PtxEntries::default());
        assert_eq!(
            parse_entries(".version 8.8\n.target sm_90\n"),
            PtxEntries::default()
        );
    }
}
