// Package archtest holds the test that keeps the package graph as drawn in
// DESIGN.md: arrows point down, siblings never import each other.
package archtest
