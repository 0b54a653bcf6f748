// Placeholder until the persistence test support lands.
export default function setup(): void {}
