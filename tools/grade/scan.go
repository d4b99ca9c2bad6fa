package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// gradingTests finds, without running anything, the Go tests that grade one
// of the given exercises: the top-level Test functions of each package (by
// directory, relative to dir) that name one of them (a string
// "exercise-NAME", given to exercise.Graded or to a helper that grades it)
// or call exercise.Graded with a name computed at run time, directly or
// through the helpers and variables declared in the package's test files.
// Nested modules (a directory with a go.mod of its own, like scripts/report)
// are left out: go test in dir cannot run them.
//
// The exercise a test grades is still read from its run (it logs "grades
// exercise-NAME"): the scan only decides which tests to run.
func gradingTests(dir string, exercises map[string]bool) (map[string][]string, error) {
	type pkg struct {
		calls map[string][]string // function or variable -> the names it uses
		seed  map[string]bool     // functions and variables that grade
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != dir && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && p != dir {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, filepath.Dir(p))
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel) + " " + f.Name.Name // package_test is its own package
		pk := pkgs[key]
		if pk == nil {
			pk = &pkg{calls: map[string][]string{}, seed: map[string]bool{}}
			pkgs[key] = pk
		}
		// inspect records what the declaration named name uses, and whether
		// it grades by itself.
		inspect := func(name string, body ast.Node) {
			ast.Inspect(body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					if isGradedCall(n) && dynamicName(n) {
						pk.seed[name] = true // which exercise is known only at run time
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING && exercises[strings.Trim(n.Value, "`\"")] {
						pk.seed[name] = true
					}
				case *ast.Ident:
					pk.calls[name] = append(pk.calls[name], n.Name)
				}
				return true
			})
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Body != nil && d.Recv == nil {
					inspect(d.Name.Name, d.Body)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if v, ok := spec.(*ast.ValueSpec); ok {
						for _, id := range v.Names {
							inspect(id.Name, v)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for key, pk := range pkgs {
		// Grow the set of grading functions until no function names one
		// that is not in it yet: a test calling a helper that grades.
		for changed := true; changed; {
			changed = false
			for fn, names := range pk.calls {
				if pk.seed[fn] {
					continue
				}
				for _, n := range names {
					if pk.seed[n] {
						pk.seed[fn], changed = true, true
						break
					}
				}
			}
		}
		d := strings.Fields(key)[0]
		for fn := range pk.seed {
			if isTestFunc(fn) {
				out[d] = append(out[d], fn)
			}
		}
	}
	for d := range out {
		slices.Sort(out[d])
		out[d] = slices.Compact(out[d]) // x and x_test in one directory
	}
	return out, nil
}

// isGradedCall reports whether call is exercise.Graded(...).
func isGradedCall(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "exercise" && sel.Sel.Name == "Graded"
}

// dynamicName reports whether a call to exercise.Graded names an exercise
// by anything but a string literal.
func dynamicName(call *ast.CallExpr) bool {
	for _, arg := range call.Args[min(1, len(call.Args)):] {
		if lit, ok := arg.(*ast.BasicLit); !ok || lit.Kind != token.STRING {
			return true
		}
	}
	return false
}

// isTestFunc reports whether name is a Go test function's name: Test, then
// nothing or a character that is not a lower-case letter.
func isTestFunc(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	return ok && (rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z'))
}
