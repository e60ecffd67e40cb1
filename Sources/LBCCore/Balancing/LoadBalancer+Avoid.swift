/// Picking for a retry: another endpoint than the one that just failed.
extension LoadBalancer {
    /// A slot other than `avoid` when the balancer offers one within four picks,
    /// else `avoid` (the only pickable endpoint is still better than none). Used
    /// only by retried attempts, so first attempts pay nothing for it.
    package func pick(nowNs: Int64, avoiding avoid: Int) -> Int? {
        guard let first = pick(nowNs: nowNs) else { return nil }
        if first != avoid { return first }
        for _ in 0..<3 {
            if let next = pick(nowNs: nowNs), next != avoid { return next }
        }
        return first
    }
}
