import { mount } from 'svelte';
import App from './App.svelte';
import { CoderoomSession } from './lib/session';
import { randomStudentName } from './lib/token';
import './app.css';

// `?name=alice` picks the display name; otherwise a random `student-1234`.
const name = new URLSearchParams(location.search).get('name')?.trim() || randomStudentName();

const session = new CoderoomSession({ name });
const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

mount(App, { target, props: { session } });
session.start();
