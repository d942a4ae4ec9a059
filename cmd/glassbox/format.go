//go:build !lean

package main

// --format as docker takes it: a Go template per object ("table TEMPLATE":
// with a header row, in columns), with docker's helper functions, or json.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
)

// templateFuncs are docker's --format helpers.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// formatter prints objects through a --format template.
type formatter struct {
	tmpl  *template.Template
	table bool
	w     io.Writer
	tw    *tabwriter.Writer
}

// newFormatter parses format; "table TEMPLATE" prints header and columns.
func newFormatter(flag, format string) (*formatter, error) {
	body, table := strings.CutPrefix(format, "table ")
	body = strings.ReplaceAll(body, `\t`, "\t")
	t, err := template.New(flag).Funcs(templateFuncs).Option("missingkey=zero").Parse(body + "\n")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	f := &formatter{tmpl: t, table: table, w: os.Stdout}
	if table {
		f.tw = tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
		f.w = f.tw
		fmt.Fprintln(f.tw, header(body))
	}
	return f, nil
}

var fieldRef = regexp.MustCompile(`\{\{\s*\.(\w+)[^}]*\}\}`)

// header is a table's header row: each {{.Field}} as FIELD.
func header(body string) string {
	return fieldRef.ReplaceAllStringFunc(body, func(ref string) string {
		return strings.ToUpper(fieldRef.FindStringSubmatch(ref)[1])
	})
}

func (f *formatter) print(v any) error {
	if err := f.tmpl.Execute(f.w, v); err != nil {
		return fmt.Errorf("%s: %w", f.tmpl.Name(), err)
	}
	return nil
}

func (f *formatter) flush() error {
	if f.tw != nil {
		return f.tw.Flush()
	}
	return nil
}
