// Command starter writes a student's starting copy of the course: every
// exercise solution (a region between "ANCHOR: exercise-NAME" and
// "ANCHOR_END: exercise-NAME" in Go or Python code) is replaced by a TODO,
// so the same tests that pass on the course grade the student's work.
//
//	go run ./scripts/starter -out ../tcp-course-starter
//
// Imports that only a removed solution used are dropped, so the starter
// compiles (its tests fail until the exercises are done).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("out", "", "directory to write the starter copy into (must not exist)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/starter -out DIR")
		os.Exit(2)
	}
	n, _, err := Write(".", *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "starter: wrote %s with %d exercises to solve\n", *out, n)
}

// Write copies the files git tracks in root to out, stripping exercise
// solutions. It returns how many it stripped and the directories (relative
// to out) whose code changed.
func Write(root, out string) (total int, changed []string, err error) {
	if _, err := os.Stat(out); err == nil {
		return 0, nil, fmt.Errorf("%s already exists", out)
	}
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		return 0, nil, fmt.Errorf("git ls-files: %w", err)
	}
	seen := map[string]bool{}
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return 0, nil, err
		}
		var n int
		switch path.Ext(name) {
		case ".go":
			data, n, err = stripGo(data)
		case ".py":
			data, n = strip(data, "#", "pass  # TODO(%s): see the chapter's Exercises")
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", name, err)
		}
		total += n
		if dir := path.Dir(name); n > 0 && !seen[dir] {
			seen[dir] = true
			changed = append(changed, dir)
		}
		dst := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return 0, nil, err
		}
		info, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			return 0, nil, err
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			return 0, nil, err
		}
	}
	return total, changed, nil
}

var (
	beginRE = regexp.MustCompile(`^(\s*)(//|#)\s*ANCHOR:\s*(exercise-[\w-]+)`)
	endRE   = regexp.MustCompile(`ANCHOR_END:\s*(exercise-[\w-]+)`)
)

// strip replaces the lines between each exercise anchor pair with one TODO
// line (placeholder, formatted with the exercise name), keeping the anchors
// so the book's includes still resolve.
func strip(src []byte, comment, placeholder string) ([]byte, int) {
	return stripWith(src, comment, func(name string) string { return fmt.Sprintf(placeholder, name) })
}

func stripWith(src []byte, comment string, placeholder func(name string) string) ([]byte, int) {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	n, inside := 0, ""
	for sc.Scan() {
		line := sc.Text()
		if inside != "" {
			if strings.Contains(line, "ANCHOR_END: "+inside) {
				out.WriteString(line + "\n")
				inside = ""
			}
			continue
		}
		out.WriteString(line + "\n")
		if m := beginRE.FindStringSubmatch(line); m != nil && m[2] == comment {
			inside = m[3]
			n++
			out.WriteString(m[1] + placeholder(inside) + "\n")
		}
	}
	return out.Bytes(), n
}

// stripGo strips exercise regions from Go source. A region that ends a
// function with results becomes a panic (the function must still return
// something); any other region becomes a TODO comment. Imports that only the
// solutions used are removed, and the file is formatted.
func stripGo(src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	orig, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	// Where each exercise region begins and ends.
	begins, ends := map[string]token.Pos{}, map[string]token.Pos{}
	for _, cg := range orig.Comments {
		for _, c := range cg.List {
			if m := beginRE.FindStringSubmatch(c.Text); m != nil {
				begins[m[3]] = c.Pos()
			} else if m := endRE.FindStringSubmatch(c.Text); m != nil {
				ends[m[1]] = c.Pos()
			}
		}
	}
	needsPanic := map[string]bool{}
	for name, b := range begins {
		needsPanic[name] = endsFunctionWithResults(orig, b, ends[name])
	}
	stripped, n := stripWith(src, "//", func(name string) string {
		if needsPanic[name] {
			return fmt.Sprintf("panic(\"TODO(%s): see the chapter's Exercises\")", name)
		}
		return fmt.Sprintf("// TODO(%s): see the chapter's Exercises", name)
	})
	if n == 0 {
		return src, 0, nil
	}
	f, err := parser.ParseFile(fset, "", stripped, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(node ast.Node) bool {
		if sel, ok := node.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		kept := gd.Specs[:0]
		for _, spec := range gd.Specs {
			is := spec.(*ast.ImportSpec)
			p, _ := strconv.Unquote(is.Path.Value)
			name := importName(p)
			if is.Name != nil {
				name = is.Name.Name
			}
			if used[name] || name == "_" || name == "." {
				kept = append(kept, spec)
			}
		}
		gd.Specs = kept
	}
	f.Imports = nil // stale after the edit; the printer works from Decls
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), n, nil
}

// endsFunctionWithResults reports whether the region [begin, end] holds the
// last statement of the innermost function around it, and that function
// returns values: removing the region would leave "missing return".
func endsFunctionWithResults(f *ast.File, begin, end token.Pos) bool {
	var typ *ast.FuncType
	var body *ast.BlockStmt
	ast.Inspect(f, func(node ast.Node) bool {
		switch fn := node.(type) {
		case *ast.FuncDecl:
			if fn.Body != nil && fn.Body.Lbrace < begin && end < fn.Body.Rbrace {
				typ, body = fn.Type, fn.Body
			}
		case *ast.FuncLit:
			if fn.Body.Lbrace < begin && end < fn.Body.Rbrace {
				typ, body = fn.Type, fn.Body // nested: the innermost wins
			}
		}
		return true
	})
	if body == nil || typ.Results == nil || len(body.List) == 0 {
		return false
	}
	last := body.List[len(body.List)-1]
	return begin < last.Pos() && last.End() <= end
}

// importName is the package name an import path declares by convention:
// its last element, without a major-version suffix (".../v3", "yaml.v3").
func importName(p string) string {
	parts := strings.Split(p, "/")
	name := parts[len(parts)-1]
	if len(parts) > 1 && regexp.MustCompile(`^v[0-9]+$`).MatchString(name) {
		name = parts[len(parts)-2]
	}
	if i := strings.Index(name, ".v"); i > 0 {
		name = name[:i]
	}
	return strings.ReplaceAll(name, "-", "_")
}
