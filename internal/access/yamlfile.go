package access

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a policy or test file.
const MaxFileSize = 4 << 20

// ParseYAML reads a policy document (the format of `sesame policy export`)
// strictly: an unknown field, a wrong type or a syntax error is an error
// naming the field's path and line. It does not validate the content; see
// ImportYAML.
func ParseYAML(data []byte) (Document, error) {
	var doc Document
	_, err := decodeYAML(data, &doc)
	return doc, err
}

// ImportYAML parses and validates a policy document. Every problem is
// reported (as Invalid) with its path and line; nothing is half-read.
func ImportYAML(data []byte, known Known) (Document, []string, error) {
	return ImportDraftYAML(data, known, nil)
}

// ImportDraftYAML is ImportYAML for a draft checked against the policies
// in force: when the file defines no named locations, locations (those in
// force) are used, so a draft policy can name them.
func ImportDraftYAML(data []byte, known Known, locations []Location) (Document, []string, error) {
	var doc Document
	lines, err := decodeYAML(data, &doc)
	if err != nil {
		return doc, nil, err
	}
	if len(doc.Locations) == 0 {
		doc.Locations = locations
	}
	d, warnings, err := Validate(doc, known)
	var inv Invalid
	if errors.As(err, &inv) {
		for _, e := range inv {
			e.Line = lines.lineOf(e.Path)
		}
	}
	return d, warnings, err
}

// ExportYAML writes a document in the format ImportYAML reads.
func ExportYAML(doc Document) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Sesame Conditional Access: named locations and policies, evaluated in order.\n")
	b.WriteString("# Check with `sesame policy test`, apply with `sesame policy import`.\n")
	if len(doc.Locations) == 0 && len(doc.Policies) == 0 {
		b.WriteString("locations: []\npolicies: []\n")
		return b.Bytes(), nil
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// positions maps a field path to the line it is on.
type positions map[string]int

// lineOf finds the line of path, or of its nearest ancestor in the file.
func (p positions) lineOf(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// decodeYAML decodes data into v (a pointer to a struct) with the rules of
// ParseYAML, and returns where each path is.
func decodeYAML(data []byte, v any) (positions, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the file is larger than %d MiB", MaxFileSize>>20)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	d := &decoder{pos: positions{}}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		d.value(root.Content[0], reflect.ValueOf(v).Elem(), "", 0)
	}
	if len(d.errs) > 0 {
		return d.pos, d.errs
	}
	return d.pos, nil
}

type decoder struct {
	pos   positions
	errs  Invalid
	nodes int // values decoded, aliases counted each time they are used
}

// maxNodes bounds the work a file can cause: aliases let a small file
// name a large list many times.
const maxNodes = 1 << 18

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	if len(d.errs) < 100 {
		d.errs = append(d.errs, &FieldError{Path: path, Line: n.Line, Message: fmt.Sprintf(format, args...)})
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number"
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string, depth int) {
	if depth > 16 {
		d.fail(n, path, "nested too deeply")
		return
	}
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, "the file has too many values (are aliases repeating a long list?)")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if path != "" {
		if _, seen := d.pos[path]; !seen {
			d.pos[path] = n.Line
		}
	}
	if isNull(n) {
		return // leave the zero value
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path, depth+1)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping of fields, got %s", kindName(n))
			return
		}
		fields := yamlFields(v.Type())
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			fp := k.Value
			if path != "" {
				fp = path + "." + k.Value
			}
			if first, dup := seen[k.Value]; dup {
				d.fail(k, fp, "given twice (first on line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				d.pos[fp] = k.Line
				d.fail(k, fp, "unknown field %q (expected one of: %s)", k.Value, strings.Join(sortedKeys(fields), ", "))
				continue
			}
			d.value(val, v.Field(f), fp, depth+1)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), idx(path, i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
			d.fail(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			fp := path + "[" + strconv.Quote(k.Value) + "]"
			if first, dup := d.pos[fp]; dup {
				d.fail(k, fp, "given twice (first on line %d)", first)
				continue
			}
			d.pos[fp] = k.Line
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(val, e, fp, depth+1)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected text, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			d.fail(n, path, "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(n, path, "expected a whole number, got %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "expected a whole number, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		d.fail(n, path, "cannot be set from a file")
	}
}

// yamlFields maps the YAML names of a struct's fields to their index.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
