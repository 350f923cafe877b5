package eci

import (
	"strconv"
	"strings"
)

// InstanceTypeSize returns the vCPU (milli) and memory (MiB) of an ECS instance type of the
// general-purpose families whose sizes follow ECS's naming rule: the size suffix gives the vCPUs
// (large 2, xlarge 4, Nxlarge 4N) and the family letter the GiB per vCPU (c 2, g 4, r 8), as in
// ecs.c6.large (2 vCPU, 4 GiB) and ecs.g6.2xlarge (8 vCPU, 32 GiB). ok is false for other types
// (GPU, burstable, local-disk families), whose sizes must be looked up in ECS's catalog.
func InstanceTypeSize(instanceType string) (milliCPU, memMiB int64, ok bool) {
	parts := strings.Split(instanceType, ".")
	if len(parts) != 3 || parts[0] != "ecs" || len(parts[1]) < 2 {
		return 0, 0, false
	}
	var perCPU int64
	switch parts[1][0] {
	case 'c':
		perCPU = 2
	case 'g':
		perCPU = 4
	case 'r':
		perCPU = 8
	default:
		return 0, 0, false
	}
	gen := strings.TrimRight(parts[1][1:], "aeit")
	if n, err := strconv.Atoi(gen); err != nil || n < 5 || n > 9 {
		return 0, 0, false
	}
	cpus, ok := sizeCPUs(parts[2])
	if !ok {
		return 0, 0, false
	}
	return cpus * 1000, cpus * perCPU * 1024, true
}

func sizeCPUs(size string) (int64, bool) {
	switch size {
	case "large":
		return 2, true
	case "xlarge":
		return 4, true
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(size, "xlarge"), 10, 64)
	if !strings.HasSuffix(size, "xlarge") || err != nil || n < 2 || n > 64 {
		return 0, false
	}
	return 4 * n, true
}

// SpecSize returns the vCPU (milli) and memory (MiB) of s: its own for a vCPU/memory spec,
// InstanceTypeSize for an ECS type.
func SpecSize(s Spec) (milliCPU, memMiB int64, ok bool) {
	if s.InstanceType == "" {
		return s.MilliCPU, s.MemoryMiB, s.MilliCPU > 0
	}
	return InstanceTypeSize(s.InstanceType)
}

// EstimatedHourlyPrice is HourlyPrice for vCPU/memory specs and, for ECS types with a known size,
// the vCPU/memory list rate applied to that size (ECI bills ECS types at their own, similar,
// prices, which are not in this catalog). ok is false when the size is unknown.
func EstimatedHourlyPrice(s Spec) (price float64, ok bool) {
	cpu, mem, ok := SpecSize(s)
	if !ok {
		return 0, false
	}
	return Spec{MilliCPU: cpu, MemoryMiB: mem}.HourlyPrice()
}
