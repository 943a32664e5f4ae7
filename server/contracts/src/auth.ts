import { z } from 'zod';

export const ROLES = ['student', 'instructor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is behind a socket or request, from the token's claims `sub`, `name`, `role`. */
export interface AuthUser {
  id: string;
  name: string;
  role: Role;
}

export const devTokenRequestSchema = z.object({
  name: z.string().trim().min(1).max(64),
  role: z.enum(ROLES).default('student'),
});
export type DevTokenRequest = z.input<typeof devTokenRequestSchema>;
