module github.com/authgate/authgate/interop

go 1.26.0
