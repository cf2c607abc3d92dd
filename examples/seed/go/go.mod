module seed.example/greeter

go 1.19
