package secretenv

import (
	"bytes"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	const a, b, c = "a secret of thirty-two bytes, aaa", "a secret of thirty-two bytes, bbb", "a secret of thirty-two bytes, ccc"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Secrets
		wantErr string
	}{
		{"nothing", nil, Secrets{CurrentID: 1}, ""},
		{"one secret", map[string]string{"AUTHGATE_SECRET": a}, Secrets{Current: []byte(a), CurrentID: 1}, ""},
		{"rotation step 1", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_PREVIOUS_SECRET": b, "AUTHGATE_PREVIOUS_SECRET_ID": "2"},
			Secrets{Current: []byte(a), CurrentID: 1, Previous: []byte(b), PreviousID: 2}, ""},
		{"rotation step 2", map[string]string{"AUTHGATE_SECRET": b, "AUTHGATE_SECRET_ID": "2", "AUTHGATE_PREVIOUS_SECRET": a,
			"AUTHGATE_PREVIOUS_SECRET_ID": "1", "AUTHGATE_NAME_SECRET": a},
			Secrets{Current: []byte(b), CurrentID: 2, Previous: []byte(a), PreviousID: 1, Names: []byte(a)}, ""},
		{"rotation step 3", map[string]string{"AUTHGATE_SECRET": b, "AUTHGATE_SECRET_ID": "2", "AUTHGATE_NAME_SECRET": a},
			Secrets{Current: []byte(b), CurrentID: 2, Names: []byte(a)}, ""},
		{"id 255", map[string]string{"AUTHGATE_SECRET": c, "AUTHGATE_SECRET_ID": "255"}, Secrets{Current: []byte(c), CurrentID: 255}, ""},
		{"short secret", map[string]string{"AUTHGATE_SECRET": "short"}, Secrets{}, "AUTHGATE_SECRET: 5 bytes"},
		{"id 0", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_SECRET_ID": "0"}, Secrets{}, "AUTHGATE_SECRET_ID"},
		{"id 256", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_SECRET_ID": "256"}, Secrets{}, "AUTHGATE_SECRET_ID"},
		{"id not a number", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_SECRET_ID": "two"}, Secrets{}, "AUTHGATE_SECRET_ID"},
		{"previous without id", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_PREVIOUS_SECRET": b}, Secrets{}, "go together"},
		{"previous id without secret", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_PREVIOUS_SECRET_ID": "2"}, Secrets{}, "go together"},
		{"previous with the current id", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_PREVIOUS_SECRET": b, "AUTHGATE_PREVIOUS_SECRET_ID": "1"}, Secrets{}, "the current secret's id"},
		{"short previous", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_PREVIOUS_SECRET": "short", "AUTHGATE_PREVIOUS_SECRET_ID": "2"}, Secrets{}, "AUTHGATE_PREVIOUS_SECRET: 5 bytes"},
		{"short name secret", map[string]string{"AUTHGATE_SECRET": a, "AUTHGATE_NAME_SECRET": "short"}, Secrets{}, "AUTHGATE_NAME_SECRET: 5 bytes"},
		{"rotation without a secret", map[string]string{"AUTHGATE_PREVIOUS_SECRET": b, "AUTHGATE_PREVIOUS_SECRET_ID": "2"}, Secrets{}, "AUTHGATE_SECRET is required"},
		{"an id without a secret", map[string]string{"AUTHGATE_SECRET_ID": "2"}, Secrets{}, "AUTHGATE_SECRET is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(func(k string) string { return tc.env[k] })
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "thirty-two") || strings.Contains(err.Error(), "short\"") {
					t.Errorf("the error %q holds a secret", err)
				}
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(got.Current, tc.want.Current) || got.CurrentID != tc.want.CurrentID ||
				!bytes.Equal(got.Previous, tc.want.Previous) || got.PreviousID != tc.want.PreviousID || !bytes.Equal(got.Names, tc.want.Names):
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNameSecret(t *testing.T) {
	if s := (Secrets{Current: []byte("c")}); string(s.NameSecret()) != "c" {
		t.Errorf("NameSecret = %q, want the current secret", s.NameSecret())
	}
	if s := (Secrets{Current: []byte("c"), Names: []byte("n")}); string(s.NameSecret()) != "n" {
		t.Errorf("NameSecret = %q, want AUTHGATE_NAME_SECRET", s.NameSecret())
	}
}
