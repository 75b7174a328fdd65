"""Control operations (防治作业) and the re-inspections (复查) they schedule."""
