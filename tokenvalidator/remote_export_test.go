package tokenvalidator

// Judge exposes the answer parser to the fuzz test.
func (v *Remote) Judge(answer []byte) (Result, error) { return v.judge(answer) }
