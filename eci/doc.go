// Package eci holds the facts argo-eci needs about Alibaba Cloud Elastic Container Instance (ECI):
// the vCPU/memory spec catalog and how ECI rounds a pod's resources up to it, the list prices used
// to compare costs, and the pod annotation, label and scheduling keys ECI and ACK understand.
//
// Everything here is pure data and arithmetic; nothing talks to the network.
package eci
