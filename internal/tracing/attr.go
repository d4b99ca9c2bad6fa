package tracing

import "strconv"

// Key is an attribute's name, such as "network.peer.address". Its methods
// make the attribute: attrSize.Int64(n).
type Key string

// KeyValue is one attribute of a span.
type KeyValue struct {
	Key   Key
	Value Value
}

// Type is what kind of value an attribute holds: OTLP's AnyValue has one
// field per kind (stringValue, intValue, boolValue...).
type Type int

// The kinds of value this package writes.
const (
	TypeString Type = iota
	TypeInt64
	TypeBool
)

// Value is an attribute's value: a string, an int64 or a bool, held without
// an interface so that making one never allocates.
type Value struct {
	typ Type
	s   string
	n   int64
}

// String makes a string attribute.
func (k Key) String(v string) KeyValue { return KeyValue{k, Value{typ: TypeString, s: v}} }

// Int64 makes an integer attribute.
func (k Key) Int64(v int64) KeyValue { return KeyValue{k, Value{typ: TypeInt64, n: v}} }

// Int makes an integer attribute.
func (k Key) Int(v int) KeyValue { return k.Int64(int64(v)) }

// Bool makes a boolean attribute.
func (k Key) Bool(v bool) KeyValue {
	var n int64
	if v {
		n = 1
	}
	return KeyValue{k, Value{typ: TypeBool, n: n}}
}

// Type returns the value's kind.
func (v Value) Type() Type { return v.typ }

// AsString returns a string value ("" for another kind).
func (v Value) AsString() string { return v.s }

// AsInt64 returns an integer value (0 for another kind).
func (v Value) AsInt64() int64 {
	if v.typ != TypeInt64 {
		return 0
	}
	return v.n
}

// AsBool returns a boolean value (false for another kind).
func (v Value) AsBool() bool { return v.typ == TypeBool && v.n != 0 }

// Emit returns the value as text, for logs and test messages.
func (v Value) Emit() string {
	switch v.typ {
	case TypeInt64:
		return strconv.FormatInt(v.n, 10)
	case TypeBool:
		return strconv.FormatBool(v.n != 0)
	}
	return v.s
}
