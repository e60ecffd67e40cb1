module lbchannel.example/balanced

go 1.19
