package regulations

import (
	"github.com/expr-lang/expr"
)

// checkExpr reports whether an expression (an automation's if, an expr
// rule's when) compiles as a condition over the deal; the message is
// expr-lang's, which points at the column.
func checkExpr(src string) error {
	_, err := expr.Compile(src, expr.AsBool(), expr.AllowUndefinedVariables())
	return err
}
