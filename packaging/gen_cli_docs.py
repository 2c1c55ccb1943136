#!/usr/bin/env python3
"""packaging/gen_cli_docs.py - manual pages and shell completions from the
CLI tables, so that --help, man and completion cannot disagree.

Input: the JSON `meshvm --dump-cli` prints (contract: docs in
/work/wt/CLI_JSON.md, kept in packaging/README), read from --json FILE or
produced by running --binary BIN --dump-cli.  The version comes from
`BIN --version` when a binary is given, else from the JSON.

Output in --out DIR:
  man/meshvm.1[.gz], man/meshvm-CMD.1[.gz]  (one page per command;
                                            subcommands are sections of it)
  completion/meshvm.bash                   (bash-completion)
  completion/_meshvm                       (zsh)
  changelog.gz                             (Debian's native-package changelog)

Only python3's standard library is used.  Files are reproducible: the date
is SOURCE_DATE_EPOCH (or --date), gzip without name or time (gzip -9n).
"""
import argparse
import datetime
import gzip
import io
import json
import os
import subprocess
import sys

MAINTAINER = ("meshvm maintainers "
              "<maintainers@users.noreply.r-seed-214e0194.example>")


# ---------------------------------------------------------------- roff --

def roff(text):
    """Plain text to roff: backslashes, leading dots/quotes, hyphens."""
    out = []
    for line in text.split("\n"):
        line = line.replace("\\", "\\e").replace("-", "\\-")
        if line.startswith(".") or line.startswith("'"):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def paragraphs(text):
    """Description paragraphs ("\\n\\n" between them) as roff."""
    parts = [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    return "\n.PP\n".join(roff(" ".join(p.split())) for p in parts)


def option_label(o):
    """-f, --file FILE"""
    names = []
    if o.get("short"):
        names.append("\\fB\\-%s\\fR" % o["short"])
    if o.get("long"):
        names.append("\\fB\\-\\-%s\\fR" % o["long"].replace("-", "\\-"))
    label = ", ".join(names)
    if o.get("arg"):
        label += " \\fI%s\\fR" % roff(o["arg"])
    return label


def option_help(o):
    h = o.get("help", "")
    if o.get("values"):
        h += " (one of: %s)" % ", ".join(o["values"])
    if o.get("config_key"):
        h += "; overrides %s in meshvm.yaml" % o["config_key"]
    return roff(h)


def options_section(opts):
    lines = []
    for o in opts:
        lines.append(".TP\n%s\n%s" % (option_label(o), option_help(o)))
    return "\n".join(lines)


def operands_section(ops):
    return "\n".join(".TP\n\\fI%s\\fR\n%s" % (roff(a["name"]), roff(a["help"]))
                     for a in ops)


def synopsis_line(path, cmd):
    syn = cmd.get("synopsis", "")
    return ".B meshvm\n[\\fIglobal options\\fR] %s %s" % (
        roff(path), roff(syn))


def th(name, date, version):
    return ('.TH "%s" "1" "%s" "meshvm %s" "meshvm manual"\n'
            % (name.upper(), date, version))


def page_main(cli, date, version, commands):
    out = [th("meshvm", date, version)]
    out.append(".SH NAME\nmeshvm \\- %s" % roff(cli.get("summary", "")))
    out.append(".SH SYNOPSIS\n.B meshvm\n[\\fIglobal options\\fR] "
               "\\fIcommand\\fR [\\fIoptions\\fR]")
    out.append(".SH DESCRIPTION\n%s" % roff(cli.get("summary", "") + "."))
    out.append(".SH COMMANDS")
    for c in commands:
        out.append(".TP\n\\fBmeshvm\\-%s\\fR(1)\n%s"
                   % (roff(c["name"]), roff(c.get("summary", ""))))
    out.append(".SH GLOBAL OPTIONS\n%s"
               % options_section(cli.get("global_options", [])))
    out.extend(trailer(cli, commands, None))
    return "\n".join(out) + "\n"


def trailer(cli, commands, this):
    out = []
    codes = cli.get("exit_codes", [])
    if codes:
        out.append(".SH EXIT STATUS")
        for e in codes:
            out.append(".TP\n.B %d\n%s" % (e["code"], roff(e["meaning"])))
    env = cli.get("environment", [])
    if env:
        out.append(".SH ENVIRONMENT")
        for e in env:
            out.append(".TP\n.B %s\n%s" % (roff(e["name"]), roff(e["meaning"])))
    see = ["\\fBmeshvm\\fR(1)"] if this else []
    see += ["\\fBmeshvm\\-%s\\fR(1)" % roff(c["name"])
            for c in commands if c["name"] != this]
    out.append(".SH SEE ALSO\n%s" % ",\n".join(see))
    return out


def page_command(cli, cmd, date, version, commands):
    name = cmd["name"]
    out = [th("meshvm-" + name, date, version)]
    out.append(".SH NAME\nmeshvm\\-%s \\- %s"
               % (roff(name), roff(cmd.get("summary", ""))))
    out.append(".SH SYNOPSIS")
    subs = cmd.get("subcommands", [])
    if subs:
        out.append("\n.br\n".join(synopsis_line(name + " " + s["name"], s)
                                  for s in subs))
    else:
        out.append(synopsis_line(name, cmd))
    desc = paragraphs(cmd.get("description", "")) or roff(cmd.get("summary",
                                                                 ""))
    out.append(".SH DESCRIPTION\n%s" % desc)
    if cmd.get("operands"):
        out.append(".SH OPERANDS\n%s" % operands_section(cmd["operands"]))
    if cmd.get("options"):
        out.append(".SH OPTIONS\n%s" % options_section(cmd["options"]))
    for s in subs:
        out.append('.SH "%s %s"' % (roff(name.upper()),
                                    roff(s["name"].upper())))
        out.append(synopsis_line(name + " " + s["name"], s))
        out.append(".PP\n%s" % (paragraphs(s.get("description", ""))
                                or roff(s.get("summary", ""))))
        if s.get("operands"):
            out.append(".SS Operands\n%s" % operands_section(s["operands"]))
        if s.get("options"):
            out.append(".SS Options\n%s" % options_section(s["options"]))
    out.extend(trailer(cli, commands, name))
    return "\n".join(out) + "\n"


# --------------------------------------------------------- completion --

FILE_ARGS = ("FILE", "OUT", "BUNDLE", "PROFILE", "TOKEN", "KEY", "F")
DIR_ARGS = ("DIR",)


def arg_kind(o):
    """'values', 'dir', 'file' or 'word' for an option's argument."""
    if o.get("values"):
        return "values"
    a = (o.get("arg") or "").upper()
    base = a.split(".")[0]
    if base in DIR_ARGS or a.endswith("DIR"):
        return "dir"
    if base in FILE_ARGS or a.endswith("FILE") or "." in a:
        return "file"
    return "word"


def words(opts):
    w = []
    for o in opts:
        if o.get("long"):
            w.append("--" + o["long"])
        if o.get("short"):
            w.append("-" + o["short"])
    return w


def bash_case_args(opts):
    """case arms completing an option's argument."""
    arms = []
    for o in opts:
        if not o.get("arg"):
            continue
        pats = []
        if o.get("long"):
            pats.append("--" + o["long"])
        if o.get("short"):
            pats.append("-" + o["short"])
        kind = arg_kind(o)
        if kind == "values":
            act = 'COMPREPLY=($(compgen -W "%s" -- "$cur"))' % " ".join(
                o["values"])
        elif kind == "dir":
            act = 'COMPREPLY=($(compgen -d -- "$cur"))'
        elif kind == "file":
            act = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            act = "COMPREPLY=()"
        arms.append("\t\t%s) %s; return ;;" % ("|".join(pats), act))
    return arms


def gen_bash(cli):
    g = cli.get("global_options", [])
    cmds = cli.get("commands", [])
    out = ["# bash completion for meshvm -*- shell-script -*-",
           "# generated from `meshvm --dump-cli` by packaging/gen_cli_docs.py",
           "",
           "_meshvm()",
           "{",
           "\tlocal cur prev cmd sub i w",
           "\tCOMPREPLY=()",
           '\tcur=${COMP_WORDS[COMP_CWORD]}',
           '\tprev=${COMP_WORDS[COMP_CWORD-1]}',
           "\tcmd='' sub=''",
           "\tfor ((i = 1; i < COMP_CWORD; i++)); do",
           '\t\tw=${COMP_WORDS[i]}',
           '\t\tcase $w in',
           "\t\t-C) i=$((i + 1)); continue ;;",
           "\t\t-*) continue ;;",
           "\t\tesac",
           '\t\tif [ -z "$cmd" ]; then cmd=$w',
           '\t\telif [ -z "$sub" ]; then sub=$w; fi',
           "\tdone",
           '\tcase "$cmd" in']
    out.append("\t'')")
    out.append('\t\tcase "$prev" in')
    out.extend("\t" + a for a in bash_case_args(g))
    out.append("\t\tesac")
    out.append('\t\tif [[ $cur == -* ]]; then')
    out.append('\t\t\tCOMPREPLY=($(compgen -W "%s" -- "$cur"))'
               % " ".join(words(g)))
    out.append("\t\telse")
    out.append('\t\t\tCOMPREPLY=($(compgen -W "%s" -- "$cur"))'
               % " ".join(c["name"] for c in cmds))
    out.append("\t\tfi ;;")
    for c in cmds:
        out.append("\t%s)" % c["name"])
        subs = c.get("subcommands", [])
        if subs:
            out.append('\t\tcase "$sub" in')
            out.append("\t\t'')")
            out.append('\t\t\tCOMPREPLY=($(compgen -W "%s %s" -- "$cur"))'
                       % (" ".join(s["name"] for s in subs),
                          " ".join(words(c.get("options", [])))))
            out.append("\t\t\treturn ;;")
            for s in subs:
                out.append("\t\t%s)" % s["name"])
                out.append('\t\t\tcase "$prev" in')
                out.extend("\t\t" + a for a in bash_case_args(s["options"]))
                out.append("\t\t\tesac")
                out.append('\t\t\tif [[ $cur == -* ]]; then')
                out.append('\t\t\t\tCOMPREPLY=($(compgen -W "%s" -- "$cur"))'
                           % " ".join(words(s.get("options", []))))
                out.append("\t\t\telse")
                out.append('\t\t\t\tCOMPREPLY=($(compgen -f -- "$cur"))')
                out.append("\t\t\tfi ;;")
            out.append("\t\tesac ;;")
            continue
        out.append('\t\tcase "$prev" in')
        out.extend("\t" + a for a in bash_case_args(c.get("options", [])))
        out.append("\t\tesac")
        out.append('\t\tif [[ $cur == -* ]]; then')
        out.append('\t\t\tCOMPREPLY=($(compgen -W "%s" -- "$cur"))'
                   % " ".join(words(c.get("options", []))))
        out.append("\t\telse")
        out.append('\t\t\tCOMPREPLY=($(compgen -f -- "$cur"))')
        out.append("\t\tfi ;;")
    out.append("\tesac")
    out.append("}")
    out.append("complete -o filenames -F _meshvm meshvm")
    return "\n".join(out) + "\n"


def zsh_quote(s):
    return s.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]") \
        .replace(":", "\\:")


def zsh_spec(o):
    """One _arguments spec per option."""
    helpt = zsh_quote(o.get("help", ""))
    kind = arg_kind(o)
    act = ""
    if o.get("arg"):
        a = zsh_quote(o["arg"])
        if kind == "values":
            act = ":%s:(%s)" % (a, " ".join(o["values"]))
        elif kind == "dir":
            act = ":%s:_files -/" % a
        elif kind == "file":
            act = ":%s:_files" % a
        else:
            act = ":%s: " % a
    specs = []
    if o.get("long") and o.get("short"):
        specs.append("'(-%s --%s)'{-%s,--%s}'[%s]%s'"
                     % (o["short"], o["long"], o["short"], o["long"], helpt,
                        act))
    elif o.get("long"):
        specs.append("'--%s[%s]%s'" % (o["long"], helpt, act))
    elif o.get("short"):
        specs.append("'-%s[%s]%s'" % (o["short"], helpt, act))
    return specs


def zsh_function(fname, opts, subs, operand):
    out = ["%s() {" % fname]
    specs = []
    for o in opts:
        specs.extend(zsh_spec(o))
    if subs:
        out.append("\tlocal -a subs")
        out.append("\tsubs=(%s)" % " ".join(
            "'%s:%s'" % (s["name"], zsh_quote(s.get("summary", "")))
            for s in subs))
        out.append("\t_arguments -C \\")
        for sp in specs:
            out.append("\t\t%s \\" % sp)
        out.append("\t\t'1:command:->sub' '*::arg:->args' && return")
        out.append("\tcase $state in")
        out.append("\tsub) _describe -t commands command subs ;;")
        out.append("\targs)")
        out.append("\t\tcase $words[1] in")
        for s in subs:
            out.append("\t\t%s) %s_%s ;;" % (s["name"], fname, s["name"]))
        out.append("\t\tesac ;;")
        out.append("\tesac")
    else:
        out.append("\t_arguments \\")
        for sp in specs:
            out.append("\t\t%s \\" % sp)
        out.append("\t\t%s" % ("'*:file:_files'" if operand else "''"))
    out.append("}")
    return out


def gen_zsh(cli):
    cmds = cli.get("commands", [])
    out = ["#compdef meshvm",
           "# zsh completion for meshvm, generated from `meshvm --dump-cli`",
           "# by packaging/gen_cli_docs.py", ""]
    for c in cmds:
        fname = "_meshvm_" + c["name"]
        for s in c.get("subcommands", []):
            out.extend(zsh_function(fname + "_" + s["name"], s["options"],
                                    [], True))
            out.append("")
        out.extend(zsh_function(fname, c.get("options", []),
                                c.get("subcommands", []), True))
        out.append("")
    out.extend(zsh_function("_meshvm", cli.get("global_options", []), cmds,
                            False))
    out.append("")
    out.append('_meshvm "$@"')
    return "\n".join(out) + "\n"


# ------------------------------------------------------------- driver --

def deb_version(v):
    """0.2.0-3-gabc1234-dirty -> 0.2.0+3.gabc1234.dirty (as version.cmake)"""
    head, sep, tail = v.partition("-")
    return head + ("+" + tail.replace("-", ".") if sep else "")


def gen_changelog(version, when):
    return ("meshvm (%s) unstable; urgency=medium\n\n"
            "  * Build of meshvm %s. The project's history is its git log.\n"
            "\n -- %s  %s\n"
            % (deb_version(version), version, MAINTAINER,
               when.strftime("%a, %d %b %Y %H:%M:%S +0000")))


def write(path, data, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = data.encode()
    if gz:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                           compresslevel=9) as f:
            f.write(raw)
        raw = buf.getvalue()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary")
    ap.add_argument("--json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--src", help="source tree: the date of its last commit "
                    "when SOURCE_DATE_EPOCH is unset")
    a = ap.parse_args()
    if a.binary:
        dump = subprocess.run([a.binary, "--dump-cli"], capture_output=True,
                              text=True, check=False)
        if dump.returncode != 0 and not a.json:
            sys.exit("gen_cli_docs: `%s --dump-cli` failed: %s"
                     % (a.binary, dump.stderr.strip()))
        if dump.returncode == 0:
            cli = json.loads(dump.stdout)
        else:
            print("gen_cli_docs: %s has no --dump-cli; using %s"
                  % (a.binary, a.json), file=sys.stderr)
            with open(a.json) as f:
                cli = json.load(f)
        ver = subprocess.run([a.binary, "--version"], capture_output=True,
                             text=True, check=True).stdout.split()
        version = ver[-1] if ver else cli.get("version", "0")
    else:
        with open(a.json) as f:
            cli = json.load(f)
        version = cli.get("version", "0")
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch and a.src:
        try:
            epoch = subprocess.run(["git", "-C", a.src, "log", "-1",
                                    "--format=%ct"], capture_output=True,
                                   text=True, check=False).stdout.strip()
        except OSError:
            epoch = ""
    epoch = int(epoch) if epoch.isdigit() else 0
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    date = when.strftime("%Y-%m-%d")
    cmds = cli.get("commands", [])
    pages = {"meshvm": page_main(cli, date, version, cmds)}
    for c in cmds:
        pages["meshvm-" + c["name"]] = page_command(cli, c, date, version,
                                                    cmds)
    for name, text in pages.items():
        write(os.path.join(a.out, "man", name + ".1"), text)
        write(os.path.join(a.out, "man", name + ".1.gz"), text, gz=True)
    write(os.path.join(a.out, "completion", "meshvm.bash"), gen_bash(cli))
    write(os.path.join(a.out, "completion", "_meshvm"), gen_zsh(cli))
    write(os.path.join(a.out, "changelog.gz"), gen_changelog(version, when),
          gz=True)
    write(os.path.join(a.out, "cli.json"), json.dumps(cli, indent=1) + "\n")


if __name__ == "__main__":
    main()
