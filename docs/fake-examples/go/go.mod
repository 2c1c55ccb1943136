module example.com/fakeexample

go 1.19
