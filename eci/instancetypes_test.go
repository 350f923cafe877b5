package eci

import "testing"

func TestInstanceTypeSize(t *testing.T) {
	tests := []struct {
		in       string
		cpu, mem int64
		ok       bool
	}{
		{"ecs.c6.large", 2000, 4096, true},
		{"ecs.c5.large", 2000, 4096, true},
		{"ecs.g6.2xlarge", 8000, 32768, true},
		{"ecs.c7.3xlarge", 12000, 24576, true},
		{"ecs.c6e.2xlarge", 8000, 16384, true},
		{"ecs.r6.xlarge", 4000, 32768, true},
		{"ecs.gn6i-c4g1.xlarge", 0, 0, false},
		{"ecs.t6-c1m1.large", 0, 0, false},
		{"ecs.c6.medium", 0, 0, false},
		{"ecs.c6.1xlarge", 0, 0, false},
		{"ecs.c4.large", 0, 0, false},
		{"c6.large", 0, 0, false},
	}
	for _, tt := range tests {
		cpu, mem, ok := InstanceTypeSize(tt.in)
		if cpu != tt.cpu || mem != tt.mem || ok != tt.ok {
			t.Errorf("InstanceTypeSize(%q) = %d, %d, %v; want %d, %d, %v", tt.in, cpu, mem, ok, tt.cpu, tt.mem, tt.ok)
		}
	}
}

func TestEstimatedHourlyPrice(t *testing.T) {
	a, ok1 := EstimatedHourlyPrice(Spec{InstanceType: "ecs.c6.large"})
	b, ok2 := DefaultSpec.HourlyPrice()
	if !ok1 || !ok2 || a != b {
		t.Errorf("ecs.c6.large = %v (%v), 2-4Gi = %v", a, ok1, b)
	}
	if _, ok := EstimatedHourlyPrice(Spec{InstanceType: "ecs.gn6i-c4g1.xlarge"}); ok {
		t.Error("price for a GPU type of unknown size")
	}
}
